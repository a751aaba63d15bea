"""The models a process serves, with their lifecycle: LOADING → READY / FAILED → UNLOADING,
and, for catalogue entries loaded on demand, NOT_LOADED → LOADING → READY → EVICTED.

Memory: with a budget for a device (`ServerSettings.memory_budget`, `gpu_memory_budget`)
every model counts its size there (estimated from its files before it loads, measured
after: `modelport.inference.memory`) and a load that does not fit first evicts unpinned
models: idle ones, least recently used first, then, if that is not enough, busy ones,
which stop taking calls and go once idle. A model is idle when no call holds it (a call
holds the model it resolved until it ends: `serving.calls.call_holds`) and nothing waits
in its queue: a model is never unloaded with a call in flight or queued. An eviction
takes the model out of the router first (its state turns EVICTED at once and the
registrar reports it, so the router stops routing here), keeps serving calls that were
already on their way for `eviction_grace_s`, waits for every call that holds it, then
unloads it and drops the model object, so its memory is freed for real. Loads under a
budget run one at a time (a queue of `max_pending_loads`), and concurrent asks for one
model share one load.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opentelemetry import trace

from modelport.inference.batching import DynamicBatcher
from modelport.inference.decoding import DecodeLoop
from modelport.inference.memory import release_freed_memory
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.model import Model
from modelport.inference.scheduling import Scheduler
from modelport.inference.settings import ModelSpec, Runtimes, ServerSettings, with_default_device
from modelport.inference.stats import ModelStats
from modelport.serving.calls import call_holds, routed_version
from modelport.serving.catalog import ModelState, version_key
from modelport.serving.errors import (
    FailedPrecondition,
    InvalidArgument,
    ModelNotReady,
    ModelportError,
    NotFound,
    ResourceExhausted,
)

log = logging.getLogger(__name__)


IDLE_POLL_S = 0.05
"""How often an eviction looks at the queue of a model it waits for."""

Listener = Callable[["ManagedModel"], Awaitable[None]]


def model_class(reference: str) -> type[Model[Any, Any]]:
    """The model class a runtime names as `module:Class`."""
    module, _, name = reference.partition(":")
    found = getattr(importlib.import_module(module), name)
    if not (isinstance(found, type) and issubclass(found, Model)):
        raise TypeError(f"{reference} is not a Model class")
    return found


@dataclass(eq=False)
class ManagedModel:
    """A model with its scheduler and state."""

    spec: ModelSpec
    model: Model[Any, Any]
    scheduler: Scheduler[Any] | None = None
    """What runs the model (built once it has loaded; None before and after a failure)."""
    state: ModelState = ModelState.LOADING
    reason: str = ""
    device: str = "cpu"
    """The device whose budget the model counts in (`cpu`, `cuda`)."""
    size_bytes: int = 0
    """Memory it takes: the estimate until loaded, then the measured size."""
    measured: bool = False
    """Whether `size_bytes` was measured (else it is the estimate). An evicted model keeps
    its measured size, which a later load of it is admitted with instead of the estimate."""
    last_used: float = 0.0
    """time.time() of the last call that resolved it, or of its load if later; 0: never
    loaded."""
    in_flight: int = 0
    """Calls that resolved it and have not ended."""
    evicting: bool = False
    """Being evicted: out of the router already, still serving calls on their way."""
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the last call holding a model being evicted ends."""
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when its eviction is over (a load of it waits for that)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pinned(self) -> bool:
        return self.spec.pinned

    @property
    def busy(self) -> bool:
        """Calls hold it or work waits for it: it must not be evicted."""
        return self.in_flight > 0 or self.queue_depth > 0

    @property
    def resident(self) -> bool:
        """Its memory counts in the budget (loading, loaded, being evicted or unloaded)."""
        return self.evicting or self.state in (
            ModelState.LOADING,
            ModelState.READY,
            ModelState.UNLOADING,
        )

    def hold(self) -> None:
        """One more call uses it (until `release`)."""
        self.in_flight += 1
        self.last_used = time.time()

    def release(self) -> None:
        self.in_flight -= 1
        if self.evicting and self.in_flight == 0:
            self.idle.set()

    async def until_idle(self) -> None:
        """Return once no call holds it and its queue is empty."""
        while self.busy:
            self.idle.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL_S):  # the queue drains without a signal
                    await self.idle.wait()

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def batcher(self) -> DynamicBatcher[Any, Any]:
        """The scheduler of a loaded batched model."""
        if not isinstance(self.scheduler, DynamicBatcher):
            raise TypeError(f"model {self.name!r} is not run by a dynamic batcher")
        return self.scheduler

    @property
    def decoder(self) -> DecodeLoop:
        """The scheduler of a loaded generative model."""
        if not isinstance(self.scheduler, DecodeLoop):
            raise TypeError(f"model {self.name!r} is not run by a decoding loop")
        return self.scheduler

    @property
    def queue_depth(self) -> int:
        """Work waiting for the model (0 when it is not loaded)."""
        return self.scheduler.queue_depth if self.scheduler is not None else 0

    @property
    def stats(self) -> ModelStats:
        return self.scheduler.stats if self.scheduler is not None else ModelStats()


class ModelRepository:
    """Loads the configured models concurrently and hands out READY ones by name/version."""

    def __init__(
        self,
        runtimes: Runtimes,
        metrics: InferenceMetrics,
        *,
        cache_dir: Path,
        warmup: bool = True,
        default_device: Literal["auto", "cpu", "cuda"] = "auto",
        budgets: dict[str, int] | None = None,
        max_pending_loads: int = 4,
        eviction_grace_s: float = 0.1,
    ) -> None:
        self._runtimes = runtimes
        self._default_device: Literal["auto", "cpu", "cuda"] = default_device
        self._classes = {r.name: model_class(r.model) for r in runtimes}
        self._cache_dir = cache_dir
        self._metrics = metrics
        self._warmup = warmup
        self._models: dict[tuple[str, str], ManagedModel] = {}
        self._specs: dict[tuple[str, str], ModelSpec] = {}
        """Every spec ever loaded, so an unloaded model can be loaded again by name."""
        self._listeners: list[Listener] = []
        self.budgets = dict(budgets or {})
        """Bytes each device (`cpu`, `cuda`) may hold; a device not in it has no budget."""
        for device, capacity in self.budgets.items():
            metrics.capacity_bytes.labels(device).set(capacity)
        self._max_pending_loads = max_pending_loads
        self._eviction_grace_s = eviction_grace_s
        self._loads: dict[tuple[str, str], asyncio.Task[ManagedModel]] = {}
        """Loads under way, by model: a second ask for one shares its load."""
        self._admission = asyncio.Lock()
        """Held by a budgeted load from making room until it is measured (one at a time)."""
        self.tracer: trace.Tracer | None = None
        """Set by the server and handed to each model's scheduler (the batcher records
        queue and compute spans with it)."""

    @classmethod
    def of(cls, settings: ServerSettings, metrics: InferenceMetrics) -> ModelRepository:
        """The repository of a process configured by `settings` (its runtimes, cache,
        warm-up and default device)."""
        return cls(
            settings.runtimes,
            metrics,
            cache_dir=settings.cache_dir,
            warmup=settings.warmup,
            default_device=settings.default_device,
            budgets={
                device: int(budget)
                for device, budget in (
                    ("cpu", settings.memory_budget),
                    ("cuda", settings.gpu_memory_budget),
                )
                if budget is not None
            },
            max_pending_loads=settings.max_pending_loads,
            eviction_grace_s=settings.eviction_grace_s,
        )

    def add_listener(self, listener: Listener) -> None:
        """Await `listener(model)` on every state change."""
        self._listeners.append(listener)

    def models(self) -> list[ManagedModel]:
        return sorted(self._models.values(), key=lambda m: (m.name, version_key(m.version)))

    async def _set_state(self, managed: ManagedModel, state: ModelState, reason: str = "") -> None:
        managed.state, managed.reason = state, reason
        for s in ModelState:
            self._metrics.model_state.labels(managed.name, managed.version, s.value).set(
                1 if s is state else 0
            )
        for listener in self._listeners:
            await listener(managed)

    async def load_all(self, specs: Iterable[ModelSpec]) -> None:
        """Load every `load: startup` spec concurrently (a failure marks that model FAILED,
        others go on); `load: on_demand` specs join the catalogue as NOT_LOADED."""
        typed = [self._typed(spec) for spec in specs]
        for spec in typed:
            if spec.load == "on_demand":
                await self.add_to_catalogue(spec)
        await asyncio.gather(*(self.load(spec) for spec in typed if spec.load == "startup"))

    def _typed(self, spec: ModelSpec) -> ModelSpec:
        return with_default_device(self._runtimes.spec(spec), self._default_device)

    def _entry(self, spec: ModelSpec, state: ModelState) -> ManagedModel:
        """A fresh entry for `spec` (a new model object: nothing of an earlier load)."""
        model = self._classes[spec.runtime](spec, self._cache_dir)
        return ManagedModel(spec, model, state=state, device=model.device_kind())

    async def add_to_catalogue(self, spec: ModelSpec) -> ManagedModel:
        """Know `spec` without loading it: listed (and registered) as NOT_LOADED."""
        spec = self._typed(spec)
        key = (spec.name, spec.version)
        if key in self._models:
            raise InvalidArgument("model", f"{spec.name!r} version {spec.version!r} is known")
        self._specs[key] = spec
        managed = self._models[key] = self._entry(spec, ModelState.NOT_LOADED)
        await self._set_state(managed, ModelState.NOT_LOADED)
        return managed

    async def load(self, spec: ModelSpec) -> ManagedModel:
        """Load one model; a spec its runtime cannot take (unknown runtime, bad options) is a
        `ConfigError`, any failure while loading (no room in the budget included) marks the
        model FAILED with the reason."""
        spec = self._typed(spec)
        key = (spec.name, spec.version)
        known = self._models.get(key)
        if known is not None and known.state not in (ModelState.NOT_LOADED, ModelState.EVICTED):
            raise InvalidArgument("model", f"{spec.name!r} version {spec.version!r} is loaded")
        self._specs[key] = spec
        managed = self._models[key] = self._entry(spec, ModelState.LOADING)
        try:
            await self._load(managed)
        except ModelportError as exc:
            await self._set_state(managed, ModelState.FAILED, f"{exc.code.name}: {exc.message}")
        return managed

    async def ensure(self, name: str, version: str = "") -> ManagedModel:
        """The model loaded: at once when it is READY, else after its load (a load under
        way is shared; one is started when none is). RESOURCE_EXHAUSTED when the budget
        has no room (every other model is pinned or busy) or too many loads wait;
        FAILED_PRECONDITION when the load failed; NOT_FOUND for a model not known here."""
        key = self._catalogue_key(name, version)
        managed = self._models.get(key)
        if managed is not None and managed.state is ModelState.READY and not managed.evicting:
            return managed
        task = self._loads.get(key)
        if task is None:
            if len(self._loads) >= self._max_pending_loads:
                raise ResourceExhausted(
                    f"{len(self._loads)} model loads are waiting here already; try another "
                    "replica or later",
                    retry_after_s=ModelNotReady.LOADING_RETRY_S,
                )
            task = self._loads[key] = asyncio.create_task(self._load_on_demand(key))
            task.add_done_callback(lambda _: self._loads.pop(key, None))
        return await asyncio.shield(task)

    def _catalogue_key(self, name: str, version: str) -> tuple[str, str]:
        """The (name, version) a load of `name` means: `version`, or the newest known."""
        if not name:
            raise InvalidArgument("model_name", "is required")
        keys = [k for k in self._specs if k[0] == name and (not version or k[1] == version)]
        if not keys:
            raise NotFound(f"model {name!r} version {version or 'any'!r} is not in this catalogue")
        return max(keys, key=lambda k: version_key(k[1]))

    async def _load_on_demand(self, key: tuple[str, str]) -> ManagedModel:
        known = self._models.get(key)
        if known is not None and known.evicting:  # being evicted: load it again once gone
            await known.gone.wait()
            known = self._models.get(key)
        if known is not None and known.state is ModelState.READY:
            return known
        if known is not None and known.resident:
            raise ModelNotReady.loading(f"model {key[0]!r} version {key[1]!r}")
        managed = self._entry(self._specs[key], ModelState.LOADING)
        previous = self._models.get(key)
        known_size = previous.size_bytes if previous is not None and previous.measured else 0
        self._models[key] = managed
        try:
            await self._load(managed, known_size)
        except ResourceExhausted:
            # Not loaded for want of room: it stays what it was (the router tries elsewhere).
            managed.state = previous.state if previous is not None else ModelState.NOT_LOADED
            if previous is not None:
                managed.size_bytes, managed.last_used = previous.size_bytes, previous.last_used
                managed.measured = previous.measured
            await self._set_state(managed, managed.state)
            raise
        except ModelportError as exc:
            await self._set_state(managed, ModelState.FAILED, f"{exc.code.name}: {exc.message}")
        if managed.state is not ModelState.READY:
            raise FailedPrecondition(f"model {key[0]!r} failed to load: {managed.reason}")
        return managed

    async def _load(self, managed: ManagedModel, known_size: int = 0) -> None:
        """Load `managed` (state LOADING when it starts, READY or FAILED when it ends);
        under its device's budget, after making room, admitted with `known_size` (measured
        at an earlier load) or else the estimate; until admitted it counts for nothing.
        Raises `ResourceExhausted` (state untouched) when there is no room."""
        budget = self.budgets.get(managed.device)
        started = time.perf_counter()
        if budget is None:
            await self._set_state(managed, ModelState.LOADING)
            await self._run_load(managed)
        else:
            async with self._admission:
                started = time.perf_counter()  # its turn: waiting for it is not the load's
                estimate = known_size or await asyncio.to_thread(managed.model.estimate_bytes)
                try:
                    await self._make_room(managed.device, estimate, budget)
                except ResourceExhausted:
                    self._metrics.model_loads.labels(managed.name, "refused").inc()
                    raise
                managed.size_bytes = estimate
                await self._set_state(managed, ModelState.LOADING)
                await self._run_load(managed)
                if managed.state is ModelState.READY and self._used(managed.device) > budget:
                    try:  # measured above the estimate: make room for the difference
                        await self._make_room(managed.device, 0, budget, keep=managed)
                    except ResourceExhausted as exc:
                        await self._drop(managed)
                        await self._set_state(
                            managed,
                            ModelState.FAILED,
                            f"measured {managed.size_bytes} bytes: {exc.message}",
                        )
        outcome = "loaded" if managed.state is ModelState.READY else "failed"
        self._metrics.model_loads.labels(managed.name, outcome).inc()
        if managed.state is ModelState.READY:
            self._metrics.model_load_duration.labels(managed.name).observe(
                time.perf_counter() - started
            )
            self._metrics.model_size_bytes.labels(managed.name, managed.version).set(
                managed.size_bytes
            )
        self._report_used()

    async def _run_load(self, managed: ManagedModel) -> None:
        model, spec = managed.model, managed.spec
        try:
            await model.load()
            if model.measured_bytes:  # else the estimate stands (see Model.measured_bytes)
                managed.size_bytes, managed.measured = model.measured_bytes, True
            managed.last_used = time.time()  # a load counts as a use: it is not first to go
            managed.scheduler = model.scheduler(self._metrics, self.tracer)
            managed.scheduler.start()
            if self._warmup:
                await managed.scheduler.warm_up(model.warmup_batch())
        except Exception as exc:
            log.exception("model %s version %s failed to load", spec.name, spec.version)
            await self._close_scheduler(managed)
            await self._set_state(managed, ModelState.FAILED, f"{type(exc).__name__}: {exc}")
            return
        log.info(
            "model %s version %s is READY (%d bytes on %s)",
            spec.name,
            spec.version,
            managed.size_bytes,
            managed.device,
        )
        await self._set_state(managed, ModelState.READY)

    def _used(self, device: str) -> int:
        return sum(m.size_bytes for m in self._models.values() if m.resident and m.device == device)

    def used_bytes(self, device: str) -> int:
        """Memory the models on `device` take (loading ones with their estimate)."""
        return self._used(device)

    def _report_used(self) -> None:
        for device in self.budgets:
            self._metrics.used_bytes.labels(device).set(self._used(device))

    async def _make_room(
        self, device: str, need: int, budget: int, keep: ManagedModel | None = None
    ) -> None:
        """Evict unpinned READY models on `device` until `need` more bytes fit in `budget`:
        idle ones first, least recently used first, then busy ones, which leave the router
        at once and go when their last call has ended (never with a call in flight).
        RESOURCE_EXHAUSTED, nothing evicted, when even that is not enough (pinned and
        loading models fill the budget). `keep` (the model just loaded) is never a victim."""
        if need > budget:
            raise ResourceExhausted(
                f"the model needs {need} bytes; the {device} memory budget is {budget}"
            )
        free = budget - self._used(device)
        if need <= free:
            return
        candidates = sorted(
            (
                m
                for m in self._models.values()
                if m.device == device
                and m.state is ModelState.READY
                and not m.evicting
                and not m.pinned
                and m is not keep
            ),
            key=lambda m: (m.busy, m.last_used),
        )
        victims: list[ManagedModel] = []
        for candidate in candidates:
            if free >= need:
                break
            victims.append(candidate)
            free += candidate.size_bytes
        if free < need:
            raise ResourceExhausted(
                f"no room on {device}: the model needs {need} bytes, "
                f"{budget - self._used(device)} of the {budget}-byte budget are free and "
                "the other models are pinned or loading",
                retry_after_s=ModelNotReady.LOADING_RETRY_S,
            )
        for victim in victims:
            victim.evicting = True  # before any await: nothing else picks it
        await asyncio.gather(*(self._evict(v) for v in victims))

    async def _evict(self, managed: ManagedModel) -> None:
        """Take `managed` out of the router (state EVICTED at once: the registrar tells the
        router, which stops routing calls here and may ask for the model again), serve the
        calls on their way for the grace period and until none holds it, then unload it
        and drop its model object."""
        idle_s = time.time() - managed.last_used if managed.last_used else 0.0
        log.info(
            "evicting model %s version %s (idle %.1f s)", managed.name, managed.version, idle_s
        )
        await self._set_state(managed, ModelState.EVICTED)  # the router stops routing here
        await asyncio.sleep(self._eviction_grace_s)
        await managed.until_idle()
        await self._drop(managed)
        self._forget_size(managed)
        self._metrics.evictions.labels(managed.name).inc()
        self._metrics.age_at_eviction.observe(idle_s)
        evicted = self._entry(managed.spec, ModelState.EVICTED)
        evicted.size_bytes, evicted.last_used = managed.size_bytes, managed.last_used
        evicted.measured = managed.measured
        key = (managed.name, managed.version)
        if self._models.get(key) is managed:
            self._models[key] = evicted
        await self._set_state(evicted, ModelState.EVICTED)
        self._report_used()
        managed.gone.set()  # wakes loads of it that waited for the eviction to end

    async def _drop(self, managed: ManagedModel) -> None:
        """Close the scheduler, unload the model and free what it held (gc, CUDA cache)."""
        await self._close_scheduler(managed)
        await managed.model.unload()
        managed.model = self._classes[managed.spec.runtime](managed.spec, self._cache_dir)
        managed.evicting = False
        gc.collect()
        await asyncio.to_thread(release_freed_memory)
        torch = sys.modules.get("torch")
        if managed.device == "cuda" and torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    async def _close_scheduler(self, managed: ManagedModel) -> None:
        if managed.scheduler is not None:
            await managed.scheduler.close()
            managed.scheduler = None

    async def unload(self, name: str, version: str) -> None:
        managed = self._models.get((name, version))
        if managed is None:
            raise NotFound(f"model {name!r} version {version!r} is not loaded")
        if managed.resident:
            await self._set_state(managed, ModelState.UNLOADING)
            await self._drop(managed)
        elif managed.state is not ModelState.FAILED:  # a catalogue entry: nothing loaded
            await self._set_state(managed, ModelState.UNLOADING)
        del self._models[(name, version)]
        self._forget_size(managed)
        self._report_used()

    def _forget_size(self, managed: ManagedModel) -> None:
        if managed.measured:
            with contextlib.suppress(KeyError):
                self._metrics.model_size_bytes.remove(managed.name, managed.version)

    def get(self, name: str, version: str = "") -> ManagedModel:
        """The READY model; empty version means the version the call was routed to (by
        Envoy, `serving.calls.routed_version`), else the newest READY version. The call
        being served (if any) holds it until it ends."""
        managed = self._resolve(name, version)
        holds = call_holds.get()
        if holds is not None:
            managed.hold()
            holds.append(managed.release)
        else:
            managed.last_used = time.time()
        return managed

    def _resolve(self, name: str, version: str) -> ManagedModel:
        if not name:
            raise InvalidArgument("model.name", "is required")
        if not version:
            routed_model, routed = routed_version.get()
            version = routed if routed_model == name else ""
        versions = [m for (n, _), m in self._models.items() if n == name]
        if not versions:
            served = ", ".join(sorted({n for n, _ in self._models})) or "none"
            raise NotFound(f"model {name!r} is not served here; this server serves: {served}")
        if version:
            match = [m for m in versions if m.version == version]
            if not match:
                known = ", ".join(repr(m.version) for m in versions)
                raise NotFound(f"model {name!r} has no version {version!r}; it has {known}")
            managed = match[0]
        else:
            ready = [m for m in versions if _serves(m)]
            if not ready:
                if any(m.state is ModelState.LOADING for m in versions):
                    raise ModelNotReady.loading(f"model {name!r}")
                if any(m.state in _ON_DEMAND for m in versions):
                    raise _not_loaded(f"model {name!r}")
                why = ""
                for m in versions:
                    if m.state is ModelState.FAILED:
                        why = f": version {m.version!r} FAILED: {m.reason}"
                raise ModelNotReady(f"model {name!r} has no READY version{why}")
            managed = (
                ready[0] if len(ready) == 1 else max(ready, key=lambda m: version_key(m.version))
            )
        if _serves(managed):
            return managed
        if managed.state is ModelState.LOADING:
            raise ModelNotReady.loading(f"model {name!r} version {managed.version!r}")
        if managed.state in _ON_DEMAND:
            raise _not_loaded(f"model {name!r} version {managed.version!r}")
        raise ModelNotReady(
            f"model {name!r} version {managed.version!r} is {managed.state.value}"
            + (f": {managed.reason}" if managed.reason else "")
        )

    def unloaded(self) -> list[ModelSpec]:
        """Specs known to this process whose model is not loaded now."""
        return [s for key, s in sorted(self._specs.items()) if key not in self._models]

    async def load_by_name(self, name: str) -> list[ManagedModel]:
        """Load every known version of `name` that is not loaded (Triton's load); a version
        that FAILED to load is tried again, and catalogue entries load as on demand (within
        the budget: RESOURCE_EXHAUSTED when there is no room)."""
        specs = [s for (n, _), s in sorted(self._specs.items()) if n == name]
        if not specs:
            raise NotFound(f"model {name!r} is not in this server's repository")
        loaded = []
        for spec in specs:
            managed = self._models.get((spec.name, spec.version))
            if managed is not None and managed.state is ModelState.FAILED:
                await self.unload(spec.name, spec.version)
                managed = None
            key = (spec.name, spec.version)
            if managed is None:
                loaded.append(await self.load(spec))
            elif managed.state in _ON_DEMAND or key in self._loads:
                loaded.append(await self.ensure(spec.name, spec.version))
        failed = [m for m in loaded if m.state is ModelState.FAILED]
        if failed:
            raise FailedPrecondition(f"model {name!r} failed to load: {failed[0].reason}")
        return loaded

    async def unload_by_name(self, name: str) -> None:
        """Unload every loaded version of `name`; it stays known for a later load."""
        if not any(n == name for n, _ in self._specs):
            raise NotFound(f"model {name!r} is not in this server's repository")
        for key in [k for k in self._models if k[0] == name]:
            await self.unload(*key)

    async def close(self) -> None:
        for task in list(self._loads.values()):
            task.cancel()
        await asyncio.gather(*self._loads.values(), return_exceptions=True)
        for managed in list(self._models.values()):
            await self.unload(managed.name, managed.version)


_ON_DEMAND = (ModelState.NOT_LOADED, ModelState.EVICTED)
SERVABLE = (ModelState.READY, ModelState.NOT_LOADED, ModelState.EVICTED)
"""A process with a model in one of these states can serve (a catalogue entry loads on
demand)."""


def _serves(managed: ManagedModel) -> bool:
    """READY, or being evicted but still serving the calls on their way."""
    return managed.state is ModelState.READY or (managed.evicting and managed.scheduler is not None)


def _not_loaded(what: str) -> ModelNotReady:
    """UNAVAILABLE with RetryInfo: the router loads it on the next call's way."""
    return ModelNotReady(
        f"{what} is not loaded on this replica; retry through the router, which loads it",
        retry_after_s=ModelNotReady.LOADING_RETRY_S,
    )
