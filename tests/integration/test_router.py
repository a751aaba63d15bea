"""The router with real backend processes on loopback: registration, routing, balancing,
health, leases and restarts."""

from __future__ import annotations

import collections
import concurrent.futures
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc, registry_pb2
from tests.cluster import (
    MODEL,
    Load,
    backend_process,
    embedding,
    registry,
    request,
    router_metrics,
    router_process,
    stop_all,
    tiny,
    wait_for,
    wait_replicas,
)
from tests.helpers import ServiceProcess, models_file

pytestmark = pytest.mark.slow

RETRYING = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{"service": "modelport.v1.EmbeddingService"}],
                "waitForReady": True,
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
"""A client's service config: wait for the connection, retry UNAVAILABLE with backoff."""


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


def test_killed_replica_fails_only_in_flight_calls_and_rejoins_when_restarted(
    pair: tuple[ServiceProcess, ServiceProcess, ServiceProcess],
) -> None:
    router, a, b = pair
    stub = embedding(router)
    ejections = f'modelport_router_ejections_total{{endpoint="{a.address}"}}'
    with Load(lambda: stub.Embed(request(), timeout=10)) as load:
        wait_for(lambda: load.succeeded_after(0.0) > 20, "calls succeed before the kill")
        killed_at = time.monotonic()
        a.kill()
        wait_for(lambda: router_metrics(router).get(ejections, 0) >= 1, "the router ejects a")
        ejected_at = time.monotonic()
        wait_for(lambda: load.succeeded_after(ejected_at) > 20, "calls succeed on b alone")
        a.start().wait_serving()  # same port: it registers itself again
        serving_at = time.monotonic()
        wait_for(lambda: a.served_calls() >= 10, "the restarted replica gets traffic")
        rejoined_at = time.monotonic()
    failures = load.failures()
    print(
        f"\nreplica SIGKILL: ejected within {ejected_at - killed_at:.1f} s, "
        f"{len(failures)} calls failed, the restarted replica took traffic "
        f"{rejoined_at - serving_at:.1f} s after it was serving"
    )
    assert len(failures) <= 8, f"{len(failures)} failures: more than the calls in flight"
    # the calls that failed were under way before the router ejected the dead replica
    late = [o for o in failures if o.started >= ejected_at]
    assert not late, f"{len(late)} calls started after the ejection failed"
    metrics = router_metrics(router)
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
        # watching first: the stream shows the registration, then its removal
        events = admin.WatchModels(registry_pb2.WatchModelsRequest(name="ghost"), timeout=60)
        register = registry_pb2.RegisterModelRequest(
            model=common_pb2.ModelRef(name="ghost", version="1"),
            task=common_pb2.TASK_EMBEDDING,
            endpoint="127.0.0.1:9",
            state=common_pb2.MODEL_STATE_LOADING,
        )
        register.lease_ttl.FromMilliseconds(3000)  # never renewed
        lease = admin.RegisterModel(register, timeout=5)
        assert lease.lease_id
        with pytest.raises(grpc.RpcError) as info:
            embedding(router).Embed(request(name="ghost"), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        seen = []
        for event in events:  # until the lease lapses (the watch's deadline bounds the wait)
            seen.append([r.state for v in event.model.versions for r in v.replicas])
            if not event.model.versions:
                events.cancel()  # type: ignore[no-untyped-call]
                break
        assert seen[0] == [common_pb2.MODEL_STATE_LOADING], seen
        assert seen[-1] == [], seen
        renewal = admin.RenewLease(
            registry_pb2.RenewLeaseRequest(lease_ids=[lease.lease_id]), timeout=5
        )
        assert list(renewal.unknown_lease_ids) == [lease.lease_id]
    finally:
        router.stop()


def test_router_restart_under_load_recovers_registrations_and_retrying_clients(
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
        channel = grpc.insecure_channel(
            router.address,
            options=[("grpc.service_config", RETRYING), ("grpc.enable_retries", 1)],
        )
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        with Load(lambda: stub.Embed(request(), timeout=20), workers=4) as load:
            wait_for(lambda: load.succeeded_after(0.0) > 20, "calls succeed before the kill")
            killed = time.monotonic()
            router.kill()
            router = router_process(env, data, port=router.port).start().wait_serving()
            restarted = time.monotonic()
            wait_replicas(router, 1)  # the backend registers again by itself
            registered = time.monotonic()
            wait_for(lambda: load.succeeded_after(registered) > 20, "calls succeed again")
        channel.close()
        assert embedding(router).Embed(request(), timeout=10).model.version == "1"
        restored = registry(router).GetModel(
            registry_pb2.GetModelRequest(name="external"), timeout=5
        )
        assert restored.versions[0].replicas[0].source == "persistent"
        model = registry(router).GetModel(registry_pb2.GetModelRequest(name=MODEL), timeout=5)
        assert model.versions[0].traffic_weight == 5
    finally:
        stop_all(backend, router)
    outage = [o for o in load.outcomes if o.ended > killed and o.started < registered]
    failed = collections.Counter(o.code for o in load.failures())
    longest = max((o.ended - o.started for o in outage), default=0.0)
    print(
        f"\nrouter SIGKILL: back in {restarted - killed:.1f} s, backend registered "
        f"{registered - restarted:.1f} s later; {len(outage)} calls spanned the outage, "
        f"failures {dict(failed)}, longest call {longest:.1f} s"
    )
    assert not [o for o in load.failures() if o.started > restarted], failed
    assert len(load.failures()) <= 4, failed  # at most the calls in flight at the kill


def test_backend_sigterm_under_load_deregisters_then_drains_without_a_failed_call(
    pair: tuple[ServiceProcess, ServiceProcess, ServiceProcess],
) -> None:
    router, a, _b = pair
    stub = embedding(router)
    with Load(lambda: stub.Embed(request(), timeout=10)) as load:
        wait_for(lambda: load.succeeded_after(0.0) > 20, "calls succeed before the signal")
        a.signal(signal.SIGTERM)
        wait_replicas(router, 1)
        assert a.process is not None
        assert a.process.wait(30) == 0
        exited_at = time.monotonic()
        wait_for(lambda: load.succeeded_after(exited_at) > 20, "calls succeed on b alone")
    assert not load.failures(), load.failures()[:5]
