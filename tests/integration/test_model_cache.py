"""The repository under a memory budget, in-process with real (small) embedding models:
sizes estimated then measured, LRU eviction of idle models only, pins, shared loads, and
memory freed for real."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from modelport.embedding.handler import EmbedCall, EmbeddingHandler
from modelport.embedding.settings import RUNTIMES, EmbeddingSettings, SentenceEmbeddingSpec
from modelport.inference.memory import estimate_bytes, rss_bytes
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.repository import ManagedModel, ModelRepository
from modelport.inference.text import TextLimits, Truncation
from modelport.serving.calls import call_holds
from modelport.serving.catalog import ModelState
from modelport.serving.errors import ConfigError, ResourceExhausted

MB = 1 << 20


def spec(name: str, path: Path, **extra: Any) -> SentenceEmbeddingSpec:
    return SentenceEmbeddingSpec(
        name=name, path=path, engine="torch", device="cpu", load="on_demand", **extra
    )


def model_bytes(folder: Path) -> int:
    return (folder / "model.safetensors").stat().st_size


@pytest.fixture
def metrics() -> InferenceMetrics:
    return InferenceMetrics()


def repository_of(metrics: InferenceMetrics, budget: int, **options: Any) -> ModelRepository:
    return ModelRepository(
        RUNTIMES,
        metrics,
        cache_dir=Path("/nonexistent"),
        warmup=False,
        budgets={"cpu": budget},
        **{"eviction_grace_s": 0.0, **options},
    )


@pytest.fixture
async def cache(
    fleet_dirs: list[Path], metrics: InferenceMetrics
) -> AsyncIterator[ModelRepository]:
    """Room for two of the fleet's models, not three."""
    repository = repository_of(metrics, int(2.5 * model_bytes(fleet_dirs[0])))
    await repository.load_all([spec(f"m{i}", d) for i, d in enumerate(fleet_dirs)])
    yield repository
    await repository.close()


def states(repository: ModelRepository) -> dict[str, str]:
    return {m.name: m.state.value for m in repository.models()}


def test_the_budget_is_read_from_the_environment_and_refused_when_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELPORT_MEMORY_BUDGET", "1.5GiB")
    assert EmbeddingSettings().memory_budget == int(1.5 * 1024**3)
    monkeypatch.setenv("MODELPORT_MEMORY_BUDGET", "lots")
    with pytest.raises(ValueError, match="memory_budget"):
        EmbeddingSettings()
    monkeypatch.setenv("MODELPORT_MEMORY_BUDGET", "0")
    with pytest.raises(ValueError, match="memory_budget"):
        EmbeddingSettings()
    monkeypatch.delenv("MODELPORT_MEMORY_BUDGET")
    with pytest.raises(ConfigError, match=r"load: Input should be 'startup' or 'on_demand'"):
        RUNTIMES.spec({"name": "m", "runtime": "sentence-embedding", "path": "/x", "load": "x"})


def test_the_estimate_is_the_weight_files_scaled_to_the_dtype(fleet_dirs: list[Path]) -> None:
    files = model_bytes(fleet_dirs[0])
    assert estimate_bytes(fleet_dirs[0], "float32") == int(files * 1.2)
    assert estimate_bytes(fleet_dirs[0], "float16") == int(files * 0.5 * 1.2)


async def test_catalogue_entries_are_listed_not_loaded_then_load_on_demand(
    cache: ModelRepository, fleet_dirs: list[Path]
) -> None:
    assert set(states(cache).values()) == {"NOT_LOADED"}
    managed = await cache.ensure("m0")
    assert managed.state is ModelState.READY
    assert managed.measured
    # measured: the torch weights' bytes, close to the file (which adds a header)
    assert 0.9 * model_bytes(fleet_dirs[0]) < managed.size_bytes <= model_bytes(fleet_dirs[0])
    assert cache.used_bytes("cpu") == managed.size_bytes


async def test_a_load_that_needs_room_evicts_the_least_recently_used_idle_model(
    cache: ModelRepository, metrics: InferenceMetrics
) -> None:
    await cache.ensure("m0")
    await cache.ensure("m1")
    cache.get("m0")  # m0 used after m1: m1 is the least recently used
    await cache.ensure("m2")
    assert states(cache) | {} == {
        "m0": "READY",
        "m1": "EVICTED",
        "m2": "READY",
        **{f"m{i}": "NOT_LOADED" for i in range(3, 8)},
    }
    assert cache.used_bytes("cpu") <= cache.budgets["cpu"]
    assert metrics.evictions.labels("m1")._value.get() == 1
    # an evicted model loads again on demand (evicting the LRU one, m0 now)
    await cache.ensure("m1")
    assert (states(cache)["m0"], states(cache)["m1"]) == ("EVICTED", "READY")


async def test_pinned_models_stay_and_busy_ones_go_only_once_their_calls_end(
    fleet_dirs: list[Path], metrics: InferenceMetrics
) -> None:
    repository = repository_of(metrics, int(2.5 * model_bytes(fleet_dirs[0])))
    try:
        await repository.load_all(
            [spec("pinned", fleet_dirs[0], pinned=True)]
            + [spec(f"m{i}", d) for i, d in enumerate(fleet_dirs[1:4], start=1)]
        )
        await repository.ensure("pinned")
        await repository.ensure("m1")
        holds: list[Any] = []
        token = call_holds.set(holds)
        try:
            repository.get("m1")  # a call holds m1 (in flight)
        finally:
            call_holds.reset(token)
        loading = asyncio.create_task(repository.ensure("m2"))
        left = asyncio.Event()

        async def on_change(managed: ManagedModel) -> None:
            if managed.name == "m1" and managed.state is ModelState.EVICTED:
                left.set()

        repository.add_listener(on_change)
        await left.wait()  # m1 leaves the router at once ...
        await asyncio.sleep(0.2)
        assert not loading.done()  # ... but stays loaded while the call is in flight
        (m1,) = [m for m in repository.models() if m.name == "m1"]
        assert m1.scheduler is not None
        for release in holds:  # the call ends: m1 goes, the pinned model never does
            release()
        assert (await loading).state is ModelState.READY
        assert states(repository) == {
            "pinned": "READY",
            "m1": "EVICTED",
            "m2": "READY",
            "m3": "NOT_LOADED",
        }
    finally:
        await repository.close()


async def test_a_load_is_refused_when_pinned_models_fill_the_budget(
    fleet_dirs: list[Path], metrics: InferenceMetrics
) -> None:
    repository = repository_of(metrics, int(1.5 * model_bytes(fleet_dirs[0])))
    try:
        await repository.load_all(
            [spec("pinned", fleet_dirs[0], pinned=True), spec("m1", fleet_dirs[1])]
        )
        await repository.ensure("pinned")
        with pytest.raises(ResourceExhausted, match="pinned or loading"):
            await repository.ensure("m1")
        assert states(repository) == {"pinned": "READY", "m1": "NOT_LOADED"}
        assert metrics.model_loads.labels("m1", "refused")._value.get() == 1
        # a model configured to load at start that can never fit FAILS, saying why
        huge = await repository.load(spec("huge", fleet_dirs[2], size_bytes=10 * MB))
        assert huge.state is ModelState.FAILED
        assert "RESOURCE_EXHAUSTED: the model needs 10485760 bytes" in huge.reason
    finally:
        await repository.close()


async def test_a_model_being_evicted_serves_the_calls_on_their_way_until_they_end(
    fleet_dirs: list[Path], metrics: InferenceMetrics
) -> None:
    repository = repository_of(metrics, int(1.5 * model_bytes(fleet_dirs[0])), eviction_grace_s=0.2)
    try:
        await repository.load_all([spec(f"m{i}", d) for i, d in enumerate(fleet_dirs[:2])])
        await repository.ensure("m0")
        left = asyncio.Event()

        async def on_change(managed: ManagedModel) -> None:
            if managed.name == "m0" and managed.state is ModelState.EVICTED:
                left.set()  # what the registrar tells the router (it stops routing here)

        repository.add_listener(on_change)
        loading = asyncio.create_task(repository.ensure("m1"))
        await left.wait()
        holds: list[Any] = []
        token = call_holds.set(holds)
        try:  # a call the router sent just before, served (and holding m0 until it ends)
            handler = EmbeddingHandler(repository, TextLimits(8, 1024))
            result = await handler.embed(
                EmbedCall("m0", "", ["a late call"], None, 0, Truncation.END)
            )
        finally:
            call_holds.reset(token)
        assert result.embeddings[0].shape == (192,)
        await asyncio.sleep(0.3)  # past the grace: the eviction waits for the call to end
        assert not loading.done()
        for release in holds:
            release()
        assert (await loading).state is ModelState.READY
        assert states(repository) == {"m0": "EVICTED", "m1": "READY"}
    finally:
        await repository.close()


async def test_evicted_models_reload_with_their_measured_size_and_queued_loads_count_nothing(
    cache: ModelRepository,
) -> None:
    for name in ("m0", "m1", "m2"):  # m0 evicted for m2
        await cache.ensure(name)
    (m0,) = [m for m in cache.models() if m.name == "m0"]
    assert (m0.state, m0.measured) == (ModelState.EVICTED, True)
    loaded = await asyncio.gather(*(cache.ensure(n) for n in ("m0", "m3", "m1", "m4")))
    assert [m.state for m in loaded].count(ModelState.READY) >= 2
    assert cache.used_bytes("cpu") <= cache.budgets["cpu"]
    assert all(m.measured for m in cache.models() if m.state is ModelState.READY)


async def test_concurrent_asks_share_one_load(
    cache: ModelRepository, metrics: InferenceMetrics
) -> None:
    loaded = await asyncio.gather(*(cache.ensure("m5") for _ in range(5)))
    assert len({id(m) for m in loaded}) == 1
    assert metrics.model_loads.labels("m5", "loaded")._value.get() == 1


async def test_a_repository_load_of_a_catalogue_model_shares_the_load_under_way(
    cache: ModelRepository, metrics: InferenceMetrics
) -> None:
    asked, (loaded,) = await asyncio.gather(cache.ensure("m4"), cache.load_by_name("m4"))
    assert asked is loaded
    assert loaded.state is ModelState.READY
    assert metrics.model_loads.labels("m4", "loaded")._value.get() == 1


async def test_loads_beyond_the_queue_are_refused_at_once(
    fleet_dirs: list[Path], metrics: InferenceMetrics
) -> None:
    repository = repository_of(metrics, 10 * model_bytes(fleet_dirs[0]), max_pending_loads=2)
    try:
        await repository.load_all([spec(f"m{i}", d) for i, d in enumerate(fleet_dirs[:3])])
        results = await asyncio.gather(
            *(repository.ensure(f"m{i}") for i in range(3)), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, ResourceExhausted)]
        assert len(refused) == 1
        assert "loads are waiting" in refused[0].message
    finally:
        await repository.close()


async def test_eviction_frees_the_weights_for_real(
    fleet_dirs: list[Path], metrics: InferenceMetrics
) -> None:
    """The evicted model's torch module is gone after gc (no reference survives), and
    cycling every model through a two-model budget twice grows the process's resident set
    by well under the memory of the models it loaded."""
    size = model_bytes(fleet_dirs[0])
    repository = repository_of(metrics, int(2.5 * size))
    try:
        await repository.load_all([spec(f"m{i}", d) for i, d in enumerate(fleet_dirs)])
        first = await repository.ensure("m0")
        module = weakref.ref(first.model.encoder.engine.module)  # type: ignore[attr-defined]
        await repository.ensure("m1")
        baseline = rss_bytes()
        loads = 0
        for _ in range(2):
            for index in range(2, len(fleet_dirs)):
                await repository.ensure(f"m{index}")
                loads += 1
                assert repository.used_bytes("cpu") <= repository.budgets["cpu"]
        gc.collect()
        assert module() is None, "an evicted model's weights are still referenced"
        grown = rss_bytes() - baseline
        assert grown < loads * size / 3, f"RSS grew {grown / MB:.1f} MB over {loads} loads"
    finally:
        await repository.close()
