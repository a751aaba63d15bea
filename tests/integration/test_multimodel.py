"""More models than memory: eight small embedding models, all `load: on_demand`, on two
backend processes whose budgets hold two and a half of them each, behind the router.
Every call (a skewed, Zipf-like mix, from concurrent clients, no client retries) is
answered, with the vector of the model it named; each backend's memory stays within its
budget (its own accounting, and its resident set measured from outside); a hot model is
loaded on the second replica."""

from __future__ import annotations

import concurrent.futures
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import pytest

from modelport.oip.v2 import open_inference_pb2 as oip
from modelport.oip.v2 import open_inference_pb2_grpc as oip_grpc
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.cluster import (
    backend_process,
    embedding,
    registry,
    router_metrics,
    router_process,
    stop_all,
    wait_for,
    wait_replicas,
)
from tests.conftest import SENTENCES
from tests.helpers import ServiceProcess, free_port, models_file, retry_delay, scrape_until

pytestmark = pytest.mark.slow

CALLS = 240
WORKERS = 6


def names(count: int) -> list[str]:
    return [f"m{i}" for i in range(count)]


def reference_vectors(folder: Path) -> dict[str, np.ndarray]:
    """What the model in `folder` should answer for each sentence: its CLS vector,
    normalised, computed here with transformers alone."""
    import torch
    from transformers import AutoTokenizer, BertModel

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = BertModel.from_pretrained(folder)
    model.train(False)
    vectors = {}
    with torch.no_grad():
        for sentence in SENTENCES:
            tokens = tokenizer(sentence, truncation=True, max_length=16, return_tensors="pt")
            cls = model(**tokens).last_hidden_state[0, 0].numpy()
            vectors[sentence] = cls / np.linalg.norm(cls)
    return vectors


def on_demand_catalogue(tmp_path: Path, folders: list[Path]) -> Path:
    """A models file listing each folder as model m<i>, `load: on_demand`, run by torch."""
    return models_file(
        tmp_path / "fleet.yaml",
        *(
            dict[str, object](
                name=name,
                runtime="sentence-embedding",
                path=str(folder),
                engine="torch",
                load="on_demand",
            )
            for name, folder in zip(names(len(folders)), folders, strict=True)
        ),
    )


def rss_bytes(process: ServiceProcess) -> int:
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    (line,) = [x for x in status.splitlines() if x.startswith("VmRSS:")]
    return int(line.split()[1]) * 1024


@dataclass
class Watcher:
    """Samples, every 0.1 s: each backend's own memory accounting and resident set, and
    how many READY replicas the router has of each model."""

    backends: list[ServiceProcess]
    router: ServiceProcess
    capacity: int = 0
    most_used: int = 0
    rss_warm: dict[int, int] = field(default_factory=dict)
    """Each backend's resident set once it had loaded a model and served a call with it
    (the libraries a load and a call import are in)."""
    rss_most: dict[int, int] = field(default_factory=dict)
    most_ready: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        stubs = [
            registry_pb2_grpc.RegistryServiceStub(grpc.insecure_channel(b.address))
            for b in self.backends
        ]
        router = registry(self.router)
        while not self.stop.wait(0.1):
            for index, (backend, stub) in enumerate(zip(self.backends, stubs, strict=True)):
                models = stub.ListModels(registry_pb2.ListModelsRequest(), timeout=5).models
                replicas = [r for m in models for v in m.versions for r in v.replicas]
                used = max(r.used_bytes for r in replicas)
                self.capacity = max(r.capacity_bytes for r in replicas)
                self.most_used = max(self.most_used, used)
                self.rss_most[index] = max(self.rss_most.get(index, 0), rss_bytes(backend))
            for info in router.ListModels(registry_pb2.ListModelsRequest(), timeout=5).models:
                ready = sum(
                    r.state == common_pb2.MODEL_STATE_READY
                    for v in info.versions
                    for r in v.replicas
                )
                self.most_ready[info.name] = max(self.most_ready.get(info.name, 0), ready)


@pytest.fixture
def cluster(
    tmp_path: Path, fleet_dirs: list[Path], free_env: dict[str, str]
) -> Iterator[tuple[ServiceProcess, list[ServiceProcess], int]]:
    """The router and two backends, each listing the whole fleet as `load: on_demand`
    with room for two and a half models; yields them and one model's file size."""
    size = (fleet_dirs[0] / "model.safetensors").stat().st_size
    catalogue = on_demand_catalogue(tmp_path, fleet_dirs)
    router = router_process(free_env, tmp_path / "data", MODELPORT_HOT_OUTSTANDING="2").start()
    router.wait_serving()
    budget = str(int(2.5 * size))
    backends = [
        backend_process(free_env, router, catalogue, MODELPORT_MEMORY_BUDGET=budget)
        for _ in range(2)
    ]
    for backend in backends:
        backend.start()
    try:
        for backend in backends:
            backend.wait_serving()

        def catalogued() -> bool:
            models = registry(router).ListModels(registry_pb2.ListModelsRequest(), timeout=5)
            return len(models.models) == len(fleet_dirs) and all(
                len(v.replicas) == 2
                and all(r.state == common_pb2.MODEL_STATE_NOT_LOADED for r in v.replicas)
                for m in models.models
                for v in m.versions
            )

        wait_for(catalogued, "every model listed NOT_LOADED on both replicas")
        yield router, backends, size
    finally:
        stop_all(*backends, router)


def test_more_models_than_memory_every_call_answered_within_budget(
    cluster: tuple[ServiceProcess, list[ServiceProcess], int], fleet_dirs: list[Path]
) -> None:
    router, backends, size = cluster
    models = names(len(fleet_dirs))
    references = {
        name: reference_vectors(folder) for name, folder in zip(models, fleet_dirs, strict=True)
    }
    rng = random.Random(17)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(models))]
    mix = [(rng.choices(models, weights)[0], rng.choice(SENTENCES)) for _ in range(CALLS)] + [
        ("m0", rng.choice(SENTENCES)) for _ in range(CALLS // 2)
    ]  # then m0 gets hot
    client = embedding(router)

    def call(name: str, sentence: str) -> tuple[str, str, embedding_pb2.EmbedResponse]:
        request = embedding_pb2.EmbedRequest(
            model=common_pb2.ModelRef(name=name), inputs=[sentence]
        )
        return name, sentence, client.Embed(request, timeout=120)

    watcher = Watcher(backends, router)
    for index, backend in enumerate(backends):  # warm: each loads a model and serves a call
        channel = grpc.insecure_channel(backend.address)
        name = models[index]
        oip_grpc.GRPCInferenceServiceStub(channel).RepositoryModelLoad(
            oip.RepositoryModelLoadRequest(model_name=name), timeout=60
        )
        embedding_pb2_grpc.EmbeddingServiceStub(channel).Embed(
            embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=name), inputs=["warm"]),
            timeout=60,
        )
        watcher.rss_warm[index] = rss_bytes(backend)
    watching = threading.Thread(target=watcher.run, daemon=True)
    watching.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            answers = list(pool.map(lambda item: call(*item), mix))
        wait_for(lambda: watcher.most_ready.get("m0", 0) == 2, "m0 READY on both replicas")
    finally:
        watcher.stop.set()
        watching.join()

    # every call answered by the model it named, with that model's own vector
    assert len(answers) == len(mix)
    for name, sentence, response in answers:
        assert response.model.name == name
        vector = np.array(response.embeddings[0].values)
        assert float(vector @ references[name][sentence]) > 0.9999, (name, sentence)
    metrics = router_metrics(router)
    misses = sum(
        v for k, v in metrics.items() if k.startswith("modelport_router_cache_misses_total{")
    )
    assert misses > len(models)  # more models than room: some were evicted and loaded again
    # within budget: the backends' own accounting ...
    assert watcher.capacity == int(2.5 * size)
    assert 0 < watcher.most_used <= watcher.capacity
    # ... and their resident sets, measured from outside: the models cycled through
    # (far more loads than fit) added at most the budget and a model's worth of slack
    loads = sum(
        v for k, v in metrics.items() if k.startswith("modelport_router_model_loads_total{")
    )
    assert loads * size > 4 * watcher.capacity
    for index in range(len(backends)):
        grown = watcher.rss_most[index] - watcher.rss_warm[index]
        assert grown < watcher.capacity + size, f"backend {index} grew {grown} bytes"
    # the hot model was spread to the second replica
    assert metrics['modelport_router_hot_spreads_total{model="m0"}'] >= 1


ROOT = Path(__file__).resolve().parents[2]


def test_a_miss_waits_for_one_shared_load_by_the_router_and_the_state_is_visible(
    tmp_path: Path, fleet_dirs: list[Path], free_env: dict[str, str]
) -> None:
    """A backend whose loads wait for a gate, and which takes calls from the router only
    (its token): a call whose deadline comes before the load ends gets UNAVAILABLE with
    RetryInfo; calls that wait share that one load, which the router asked for with its
    credential (a caller without it is refused the same load); the router, the backend's
    ListModels, its repository index and its metrics show the states, sizes and budget."""
    token = tmp_path / "router-token"
    token.write_text("router-secret\n")
    catalogue = on_demand_catalogue(tmp_path, fleet_dirs[:2])
    router = router_process(
        free_env, tmp_path / "data", MODELPORT_BACKEND_TOKEN_FILE=str(token)
    ).start()
    gate = tmp_path / "gate"
    budget = 3 * (fleet_dirs[0] / "model.safetensors").stat().st_size
    backend = ServiceProcess(
        "tests.gated_embedding",
        {
            **free_env,
            "PYTHONPATH": f"{ROOT}:{free_env.get('PYTHONPATH', '')}",
            "MODELPORT_ROUTER_ADDRESS": router.address,
            "MODELPORT_MODELS_FILE": str(catalogue),
            "MODELPORT_LEASE_TTL_S": "3",
            "MODELPORT_TORCH_THREADS": "1",
            "MODELPORT_TEST_LOAD_GATE": str(gate),
            "MODELPORT_AUTH_ROUTER_TOKEN_FILE": str(token),
            "MODELPORT_MEMORY_BUDGET": str(budget),
        },
        free_port(),
        free_port(),
    )
    try:
        router.wait_serving()
        backend.start().wait_serving()
        wait_replicas(router, 1, name="m0", state=common_pb2.MODEL_STATE_NOT_LOADED)
        client = embedding(router)
        m0 = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="m0"), inputs=["hi"])

        # straight to the backend, without the router's credential: refused
        direct = grpc.insecure_channel(backend.address)
        with pytest.raises(grpc.RpcError) as refused:
            oip_grpc.GRPCInferenceServiceStub(direct).RepositoryModelLoad(
                oip.RepositoryModelLoadRequest(model_name="m0"), timeout=10
            )
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

        # through the router: the load starts, the call's deadline comes first
        with pytest.raises(grpc.RpcError) as info:
            client.Embed(m0, timeout=2)
        error = info.value
        assert isinstance(error, grpc.Call)
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        assert "did not finish within the call's deadline; retry" in (error.details() or "")
        assert retry_delay(error) is not None
        wait_replicas(router, 1, name="m0", state=common_pb2.MODEL_STATE_LOADING)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            waiting = [pool.submit(client.Embed, m0, timeout=120) for _ in range(4)]
            wait_for(
                lambda: (
                    router_metrics(router).get('modelport_router_cache_misses_total{model="m0"}', 0)
                    == 5
                ),
                "the four calls waiting for the load",
            )
            assert not any(f.done() for f in waiting)
            gate.touch()
            answers = [f.result() for f in waiting]
        assert all(a.model.name == "m0" and len(a.embeddings) == 1 for a in answers)
        metrics = router_metrics(router)
        assert metrics['modelport_router_model_loads_total{model="m0",outcome="OK"}'] == 1

        # visible: the router's view ...
        listed = {
            m.name: m.versions[0].replicas[0]
            for m in registry(router).ListModels(registry_pb2.ListModelsRequest(), timeout=5).models
        }
        assert listed["m0"].state == common_pb2.MODEL_STATE_READY
        assert listed["m0"].size_bytes > 0
        assert listed["m0"].HasField("last_used")
        assert listed["m1"].state == common_pb2.MODEL_STATE_NOT_LOADED
        # ... the backend's, with the router's credential
        credential = (("authorization", "Bearer router-secret"),)
        own = registry_pb2_grpc.RegistryServiceStub(direct).ListModels(
            registry_pb2.ListModelsRequest(), timeout=5, metadata=credential
        )
        replica = {m.name: m.versions[0].replicas[0] for m in own.models}["m0"]
        assert replica.capacity_bytes == budget
        assert 0 < replica.size_bytes == replica.used_bytes <= budget
        assert not replica.pinned
        index = oip_grpc.GRPCInferenceServiceStub(direct).RepositoryIndex(
            oip.RepositoryIndexRequest(), timeout=5, metadata=credential
        )
        entries = {e.name: e for e in index.models}
        assert entries["m0"].state == "READY"
        assert entries["m0"].reason.startswith(f"size_bytes={replica.size_bytes} measured;")
        assert entries["m0"].reason.endswith("pinned=false")
        assert entries["m1"].state == "NOT_LOADED"
        assert "last_used=never" in entries["m1"].reason
        scrape_until(backend.metrics_port, "modelport_model_load_duration_seconds_count")
        samples = router_metrics(backend)  # the same Prometheus text, read from the backend
        assert samples['modelport_memory_capacity_bytes{device="cpu"}'] == budget
        assert samples['modelport_memory_used_bytes{device="cpu"}'] == replica.used_bytes
        assert samples['modelport_model_loads_total{model="m0",outcome="loaded"}'] == 1
        assert samples['modelport_model_size_bytes{model="m0",version="1"}'] == replica.size_bytes
    finally:
        stop_all(backend, router)
