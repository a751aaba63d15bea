"""The router with real backend processes on loopback: registration, routing, balancing,
health, leases and restarts."""

from __future__ import annotations

import collections
import concurrent.futures
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.helpers import ServiceProcess, free_port, models_file

pytestmark = pytest.mark.slow

MODEL = "m"


def router_process(
    env: dict[str, str], data_dir: Path, port: int | None = None, **extra: str
) -> ServiceProcess:
    return ServiceProcess(
        "modelport.router",
        {**env, "MODELPORT_DATA_DIR": str(data_dir), "MODELPORT_LEASE_TTL_S": "3", **extra},
        port or free_port(),
        free_port(),
    )


def backend_process(
    env: dict[str, str], router: ServiceProcess, model_file: Path
) -> ServiceProcess:
    return ServiceProcess(
        "modelport.embedding",
        {
            **env,
            "MODELPORT_ROUTER_ADDRESS": router.address,
            "MODELPORT_MODELS_FILE": str(model_file),
            "MODELPORT_LEASE_TTL_S": "3",
            "MODELPORT_TORCH_THREADS": "1",
        },
        free_port(),
        free_port(),
    )


def tiny(tmp_path: Path, tiny_bert_dir: Path, version: str = "1", name: str = MODEL) -> Path:
    return models_file(
        tmp_path / f"{name}-{version}.yaml",
        {
            "name": name,
            "version": version,
            "runtime": "sentence-embedding",
            "path": str(tiny_bert_dir),
        },
    )


def registry(router: ServiceProcess) -> registry_pb2_grpc.RegistryServiceStub:
    return registry_pb2_grpc.RegistryServiceStub(grpc.insecure_channel(router.address))


def embedding(router: ServiceProcess) -> embedding_pb2_grpc.EmbeddingServiceStub:
    return embedding_pb2_grpc.EmbeddingServiceStub(grpc.insecure_channel(router.address))


def request(version: str = "", name: str = MODEL) -> embedding_pb2.EmbedRequest:
    return embedding_pb2.EmbedRequest(
        model=common_pb2.ModelRef(name=name, version=version), inputs=["route me"]
    )


def wait_replicas(
    router: ServiceProcess, count: int, name: str = MODEL, timeout_s: float = 60
) -> None:
    """Watch the registry until `name` has `count` READY replicas (over all versions)."""
    events = registry(router).WatchModels(
        registry_pb2.WatchModelsRequest(name=name), timeout=timeout_s
    )
    for event in events:
        ready = sum(
            r.state == common_pb2.MODEL_STATE_READY
            for v in event.model.versions
            for r in v.replicas
        )
        if ready == count:
            events.cancel()  # type: ignore[no-untyped-call]
            return


def stop_all(*processes: ServiceProcess) -> None:
    for p in processes:
        p.stop()


@pytest.fixture
def env(free_env: dict[str, str]) -> dict[str, str]:
    return free_env


@pytest.fixture
def pair(
    tmp_path: Path, tiny_bert_dir: Path, env: dict[str, str]
) -> Iterator[tuple[ServiceProcess, ServiceProcess, ServiceProcess]]:
    """A router with two replicas of model `m` v1."""
    router = router_process(env, tmp_path / "data").start()
    router.wait_serving()
    model = tiny(tmp_path, tiny_bert_dir)
    a = backend_process(env, router, model).start()
    b = backend_process(env, router, model).start()
    try:
        wait_replicas(router, 2)
        yield router, a, b
    finally:
        stop_all(a, b, router)


def test_two_replicas_share_load_and_errors_pass_through(
    pair: tuple[ServiceProcess, ServiceProcess, ServiceProcess],
) -> None:
    router, a, b = pair
    stub = embedding(router)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: stub.Embed(request(), timeout=30), range(200)))
    assert all(len(r.embeddings[0].values) == 32 for r in results)
    served = a.served_calls(), b.served_calls()
    assert sum(served) >= 200
    assert min(served) >= 40, served  # both replicas take a real share

    def code(req: embedding_pb2.EmbedRequest) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            stub.Embed(req, timeout=10)
        return info.value.code()

    assert code(request(name="nope")) == grpc.StatusCode.NOT_FOUND
    assert code(request(version="7")) == grpc.StatusCode.NOT_FOUND
    assert code(embedding_pb2.EmbedRequest(inputs=["x"])) == grpc.StatusCode.INVALID_ARGUMENT
    bad = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=MODEL), inputs=[""])
    with pytest.raises(grpc.RpcError) as info:
        stub.Embed(bad, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "inputs[0]: is empty"
    # streams are forwarded message by message
    stream = list(stub.EmbedStream(iter([request()] * 5), timeout=30))
    assert len(stream) == 5
    # the deadline travels with the call
    with pytest.raises(grpc.RpcError) as info:
        stub.Embed(
            embedding_pb2.EmbedRequest(
                model=common_pb2.ModelRef(name=MODEL),
                inputs=["many words " * 30] * 1000,
            ),
            timeout=0.05,
        )
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_killed_replica_fails_only_in_flight_calls_and_is_avoided_within_a_second(
    pair: tuple[ServiceProcess, ServiceProcess, ServiceProcess],
) -> None:
    router, a, b = pair
    stub = embedding(router)
    failures: list[float] = []
    successes: list[float] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                stub.Embed(request(), timeout=10)
                successes.append(time.monotonic())
            except grpc.RpcError:
                failures.append(time.monotonic())

    workers = [threading.Thread(target=load) for _ in range(8)]
    for w in workers:
        w.start()
    time.sleep(1.0)
    killed_at = time.monotonic()
    a.kill()
    time.sleep(3.0)
    stop.set()
    for w in workers:
        w.join()
    assert len(failures) <= 8, f"{len(failures)} failures: more than the calls in flight"
    assert all(t - killed_at < 1.0 for t in failures), "calls still failed 1 s after the kill"
    assert sum(t > killed_at + 1.0 for t in successes) > 20
    metrics = router_metrics(router)
    assert metrics[f'modelport_router_ejections_total{{endpoint="{a.address}"}}'] >= 1
    assert metrics[f'modelport_router_outstanding_calls{{endpoint="{b.address}"}}'] == 0
    embeds = [
        v
        for k, v in metrics.items()
        if k.startswith(
            'modelport_request_duration_seconds_count{code="OK",method="/modelport.v1.'
            'EmbeddingService/Embed",model="m",version="1"}'
        )
    ]
    assert embeds
    assert embeds[0] > 20


def router_metrics(router: ServiceProcess) -> dict[str, float]:
    """Samples of the router's /metrics, by `name{labels}`."""
    import urllib.request

    body = (
        urllib.request.urlopen(f"http://127.0.0.1:{router.metrics_port}/metrics", timeout=5)
        .read()
        .decode()
    )
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def test_version_pinning_and_canary_weights(
    tmp_path: Path, tiny_bert_dir: Path, env: dict[str, str]
) -> None:
    router = router_process(env, tmp_path / "data").start().wait_serving()
    v1 = backend_process(env, router, tiny(tmp_path, tiny_bert_dir, "1")).start()
    v2 = backend_process(env, router, tiny(tmp_path, tiny_bert_dir, "2")).start()
    try:
        wait_replicas(router, 2)
        stub = embedding(router)

        def versions(n: int, version: str = "") -> collections.Counter[str]:
            return collections.Counter(
                stub.Embed(request(version), timeout=10).model.version for _ in range(n)
            )

        assert versions(20) == {"2": 20}  # empty version → newest READY
        assert versions(20, "1") == {"1": 20}  # pinned
        admin = registry(router)
        admin.SetTrafficSplit(
            registry_pb2.SetTrafficSplitRequest(name=MODEL, weights={"1": 80, "2": 20}),
            timeout=5,
        )
        split = versions(400)
        assert 0.12 < split["2"] / 400 < 0.28, split
        assert versions(20, "2") == {"2": 20}  # pinning ignores the split
        with pytest.raises(grpc.RpcError) as info:
            admin.SetTrafficSplit(
                registry_pb2.SetTrafficSplitRequest(name=MODEL, weights={"9": 1}), timeout=5
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        weights = {
            v.version: v.traffic_weight
            for v in admin.GetModel(registry_pb2.GetModelRequest(name=MODEL), timeout=5).versions
        }
        assert weights == {"1": 80, "2": 20}
    finally:
        stop_all(v1, v2, router)


def test_slow_replica_gets_fewer_calls(
    tmp_path: Path, tiny_bert_dir: Path, minilm_dir: Path, env: dict[str, str]
) -> None:
    router = router_process(env, tmp_path / "data").start().wait_serving()
    fast = backend_process(env, router, tiny(tmp_path, tiny_bert_dir)).start()
    slow_model = models_file(
        tmp_path / "slow.yaml",
        {
            "name": MODEL,
            "version": "1",
            "runtime": "sentence-embedding",
            "path": str(minilm_dir),
            "batching": {"max_batch_size": 1},
        },
    )
    slow = backend_process(env, router, slow_model).start()
    try:
        wait_replicas(router, 2)
        stub = embedding(router)
        long_request = embedding_pb2.EmbedRequest(
            model=common_pb2.ModelRef(name=MODEL), inputs=["a longer input sentence " * 20] * 4
        )
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: stub.Embed(long_request, timeout=60), range(160)))
        fast_calls, slow_calls = fast.served_calls(), slow.served_calls()
        assert slow_calls < 0.35 * (fast_calls + slow_calls), (fast_calls, slow_calls)
    finally:
        stop_all(fast, slow, router)


def test_lapsed_lease_removes_the_replica_and_no_ready_replica_is_unavailable(
    tmp_path: Path, env: dict[str, str]
) -> None:
    router = router_process(env, tmp_path / "data").start().wait_serving()
    try:
        admin = registry(router)
        register = registry_pb2.RegisterModelRequest(
            model=common_pb2.ModelRef(name="ghost", version="1"),
            task=common_pb2.TASK_EMBEDDING,
            endpoint="127.0.0.1:9",
            state=common_pb2.MODEL_STATE_LOADING,
        )
        register.lease_ttl.FromMilliseconds(800)
        lease = admin.RegisterModel(register, timeout=5)
        assert lease.lease_id
        with pytest.raises(grpc.RpcError) as info:
            embedding(router).Embed(request(name="ghost"), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        registered_at = time.monotonic()
        events = admin.WatchModels(registry_pb2.WatchModelsRequest(name="ghost"), timeout=10)
        for event in events:
            if not event.model.versions:
                events.cancel()  # type: ignore[no-untyped-call]
                break
        assert 0.3 < time.monotonic() - registered_at < 3.0
        renewal = admin.RenewLease(
            registry_pb2.RenewLeaseRequest(lease_ids=[lease.lease_id]), timeout=5
        )
        assert list(renewal.unknown_lease_ids) == [lease.lease_id]
    finally:
        router.stop()


def test_router_restart_recovers_registrations_without_manual_steps(
    tmp_path: Path, tiny_bert_dir: Path, env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    router = router_process(env, data).start().wait_serving()
    backend = backend_process(env, router, tiny(tmp_path, tiny_bert_dir)).start()
    try:
        wait_replicas(router, 1)
        admin = registry(router)
        admin.RegisterModel(
            registry_pb2.RegisterModelRequest(
                model=common_pb2.ModelRef(name="external", version="3"),
                task=common_pb2.TASK_EMBEDDING,
                endpoint=backend.address,
                persistent=True,
            ),
            timeout=5,
        )
        admin.SetTrafficSplit(
            registry_pb2.SetTrafficSplitRequest(name=MODEL, weights={"1": 5}), timeout=5
        )
        router.kill()
        router = router_process(env, data, port=router.port).start().wait_serving()
        wait_replicas(router, 1, timeout_s=15)  # the backend registered again by itself
        assert embedding(router).Embed(request(), timeout=10).model.version == "1"
        restored = registry(router).GetModel(
            registry_pb2.GetModelRequest(name="external"), timeout=5
        )
        assert restored.versions[0].replicas[0].source == "persistent"
        model = registry(router).GetModel(registry_pb2.GetModelRequest(name=MODEL), timeout=5)
        assert model.versions[0].traffic_weight == 5
    finally:
        stop_all(backend, router)


def test_backend_sigterm_deregisters_before_draining(
    pair: tuple[ServiceProcess, ServiceProcess, ServiceProcess],
) -> None:
    router, a, _b = pair
    a.signal(signal.SIGTERM)
    wait_replicas(router, 1, timeout_s=10)
    stub = embedding(router)
    assert all(stub.Embed(request(), timeout=10).embeddings for _ in range(20))
