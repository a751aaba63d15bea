"""The router in-process on loopback port 0, with a backend's registrar and plain grpc.aio
clients: leases and watches (fast; no model weights, no child process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import grpc
import pytest

from modelport.inference.metrics import InferenceMetrics
from modelport.inference.model import BatchedModel, ModelMetadata
from modelport.inference.registration import RouterRegistrar
from modelport.inference.repository import ModelRepository
from modelport.inference.settings import ModelSpec, Runtime, Runtimes
from modelport.router.__main__ import RouterServer
from modelport.router.registry import Registration, ReplicaState, Source
from modelport.router.settings import RouterSettings
from modelport.serving.catalog import Task
from modelport.v1 import registry_pb2, registry_pb2_grpc
from tests.helpers import start_router


class EchoSpec(ModelSpec):
    runtime: Literal["echo"] = "echo"
    needs_folder: ClassVar[bool] = False


class Echo(BatchedModel[str, str]):
    """A model without weights: enough for a backend to register it."""

    task = Task.EMBEDDING

    def load_weights(self) -> None:
        pass

    def predict_batch(self, batch: Sequence[str]) -> list[str]:
        return list(batch)

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(Task.EMBEDDING)


@pytest.fixture
async def repository() -> AsyncIterator[ModelRepository]:
    repository = ModelRepository(
        Runtimes(Runtime(EchoSpec, f"{__name__}:Echo")),
        InferenceMetrics(),
        cache_dir=Path("/nonexistent"),
        warmup=False,
    )
    yield repository
    await repository.close()


async def test_backend_renews_its_lease_within_the_ttl_the_router_granted(
    tmp_path: Path, repository: ModelRepository
) -> None:
    router = await start_router(tmp_path, lease_ttl_s=2.0, max_lease_ttl_s=2.0)
    registrar = RouterRegistrar(f"127.0.0.1:{router.port}", "127.0.0.1:9", repository, ttl_s=60.0)
    repository.add_listener(registrar.on_model_change)
    registrar.start()
    try:
        await repository.load(EchoSpec(name="m"))
        (registration,) = router.registry.registrations()
        assert registration.lease_ttl_s == 2.0  # asked for 60 s, granted the maximum
        renewals, expires = 0, registration.lease_expires
        while renewals < 3:
            await asyncio.sleep(0.05)
            now = router.registry.registrations()
            assert now == [registration], "the lease lapsed before the backend renewed it"
            if registration.lease_expires != expires:
                renewals, expires = renewals + 1, registration.lease_expires
    finally:
        await registrar.close()
        await router.stop(grace=0)


async def test_registrar_deregisters_on_close(tmp_path: Path, repository: ModelRepository) -> None:
    router = await start_router(tmp_path)
    registrar = RouterRegistrar(f"127.0.0.1:{router.port}", "127.0.0.1:9", repository, 30.0)
    repository.add_listener(registrar.on_model_change)
    registrar.start()
    try:
        await repository.load(EchoSpec(name="m"))
        assert [r.name for r in router.registry.registrations()] == ["m"]
        await registrar.close()
        assert router.registry.registrations() == []
    finally:
        await router.stop(grace=0)


async def test_a_backend_registers_renews_and_deregisters_with_a_registrar_token(
    tmp_path: Path, repository: ModelRepository
) -> None:
    """H2: a backend needs no admin token: a registrar token bound to the host it calls
    from does. Its renewals leave no audit line; its registration and deregistration do."""
    import json

    import yaml

    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        yaml.safe_dump(
            {"tokens": [{"token": "r", "identity": "pod", "role": "registrar", "same_host": True}]}
        )
    )
    audit = tmp_path / "audit.jsonl"
    router = await start_router(
        tmp_path,
        lease_ttl_s=1.5,
        max_lease_ttl_s=1.5,
        auth_tokens_file=tokens,
        audit_log=str(audit),
    )
    registrar = RouterRegistrar(
        f"127.0.0.1:{router.port}", "127.0.0.1:9", repository, ttl_s=1.5, token="r"
    )
    repository.add_listener(registrar.on_model_change)
    registrar.start()
    try:
        await repository.load(EchoSpec(name="m"))
        (registration,) = router.registry.registrations()
        expires = registration.lease_expires
        while registration.lease_expires == expires:  # renewed at a third of the lease
            await asyncio.sleep(0.05)
            assert router.registry.registrations() == [registration], "the lease lapsed"
        await registrar.close()
        assert router.registry.registrations() == []
    finally:
        await registrar.close()
        await router.stop(grace=0)
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    calls = [(line["what"].rsplit("/", 1)[1], line["who"], line["outcome"]) for line in lines]
    # registered when its load starts (LOADING) and when READY; renewals are never audited
    assert calls[-1] == ("DeregisterModel", "pod", "ok")
    assert len(calls) >= 3
    assert set(calls[:-1]) == {("RegisterModel", "pod", "ok")}


async def test_a_watch_that_falls_behind_ends_with_resource_exhausted(tmp_path: Path) -> None:
    router = await start_router(tmp_path)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{router.port}")
    try:
        registry = router.registry
        registry.register(static("m", "1"))
        events = registry_pb2_grpc.RegistryServiceStub(channel).WatchModels(
            registry_pb2.WatchModelsRequest(name="m"), timeout=10
        )
        first = await next_event(events)  # the current state: the watch is subscribed
        assert [v.version for v in first.model.versions] == ["1"]
        for i in range(1100):  # more changes than a watch holds, none of them read
            registry.register(static("other", str(i)))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await events.read()  # none of the changes is to `m`
        # not a stream left open without events until the deadline
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "WatchModels again" in (info.value.details() or "")
        again = registry_pb2_grpc.RegistryServiceStub(channel).WatchModels(
            registry_pb2.WatchModelsRequest(name="m"), timeout=10
        )
        assert [v.version for v in (await next_event(again)).model.versions] == ["1"]
        again.cancel()
    finally:
        await channel.close(None)
        await router.stop(grace=0)


def static(name: str, version: str) -> Registration:
    return Registration(
        name, version, "127.0.0.1:9", "embedding", ReplicaState.READY, Source.STATIC
    )


async def next_event(events: Any) -> registry_pb2.ModelEvent:
    event = await events.read()
    assert isinstance(event, registry_pb2.ModelEvent), event
    return event


async def test_traffic_splits_from_configuration_are_the_same_on_every_replica_and_restart(
    tmp_path: Path,
) -> None:
    """Issue 19 item 5: two router replicas given the same configuration (the chart's
    `router.trafficSplits` and `router.staticReplicas`) route with the same split, a
    restart keeps it, a configured split wins over one stored by an earlier call, and
    with runtime splits off a SetTrafficSplit call is refused instead of changing one
    replica."""
    replicas = [
        {"name": "m", "version": version, "endpoint": f"127.0.0.1:{port}"}
        for version, port in (("1", 9), ("2", 10))
    ]
    configured = {
        "static_replicas": replicas,
        "traffic_splits": {"m": {"1": 90, "2": 10}},
        "allow_runtime_splits": False,
    }

    async def weights(router: RouterServer) -> dict[str, int]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            info = await stub.GetModel(registry_pb2.GetModelRequest(name="m"), timeout=5)
        return {v.version: v.traffic_weight for v in info.versions}

    # A split stored by a call on a router that allowed it (runtime splits on).
    earlier = await start_router(tmp_path, static_replicas=replicas)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{earlier.port}") as channel:
            await registry_pb2_grpc.RegistryServiceStub(channel).SetTrafficSplit(
                registry_pb2.SetTrafficSplitRequest(name="m", weights={"1": 0, "2": 100}),
                timeout=5,
            )
        assert await weights(earlier) == {"1": 0, "2": 100}
    finally:
        await earlier.stop(grace=0)

    first = await start_router(tmp_path, **configured)  # same data dir: the stored split
    second = await start_router(tmp_path / "other", **configured)
    try:
        assert await weights(first) == await weights(second) == {"1": 90, "2": 10}
        async with grpc.aio.insecure_channel(f"127.0.0.1:{first.port}") as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.SetTrafficSplit(
                    registry_pb2.SetTrafficSplitRequest(name="m", weights={"2": 100}), timeout=5
                )
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "MODELPORT_TRAFFIC_SPLITS" in (refused.value.details() or "")
        assert await weights(first) == {"1": 90, "2": 10}
    finally:
        await first.stop(grace=0)
        await second.stop(grace=0)

    restarted = await start_router(tmp_path, **configured)
    try:
        assert await weights(restarted) == {"1": 90, "2": 10}
    finally:
        await restarted.stop(grace=0)


def test_a_configured_traffic_split_needs_a_positive_weight() -> None:
    from pydantic import ValidationError

    for splits in ({"m": {"1": 0}}, {"m": {"1": -1, "2": 5}}, {"": {"1": 1}}):
        with pytest.raises(ValidationError, match="traffic split"):
            RouterSettings(traffic_splits=splits)


async def test_one_connection_cannot_hold_more_calls_open_than_the_server_allows(
    tmp_path: Path,
) -> None:
    """Security review L4: MODELPORT_MAX_STREAMS_PER_CONNECTION=2 is the HTTP/2 stream limit
    the router announces. A third call on the same connection waits (it is queued, not
    failed) until one of the two ends; a call on another connection is not held up."""
    router = await start_router(tmp_path, max_streams_per_connection=2)
    router.registry.register(
        Registration("m", "1", "127.0.0.1:1", "embedding", ReplicaState.READY, Source.STATIC)
    )
    watch = registry_pb2.WatchModelsRequest(name="m")
    address = f"127.0.0.1:{router.port}"
    own = [("grpc.use_local_subchannel_pool", 1)]  # a connection of its own, not shared
    try:
        async with (
            grpc.aio.insecure_channel(address, options=own) as channel,
            grpc.aio.insecure_channel(address, options=own) as other,
        ):
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            opened = [stub.WatchModels(watch) for _ in "ab"]
            for stream in opened:
                assert (await next_event(stream)).model.name == "m"  # open on the router
            third = stub.WatchModels(watch)
            third_read = asyncio.ensure_future(next_event(third))
            elsewhere = registry_pb2_grpc.RegistryServiceStub(other).WatchModels(watch)
            assert (await asyncio.wait_for(next_event(elsewhere), 30)).model.name == "m"
            assert not third_read.done()  # still queued behind the connection's two
            opened[0].cancel()
            assert (await asyncio.wait_for(third_read, 30)).model.name == "m"
            for stream in (opened[1], third, elsewhere):
                stream.cancel()
    finally:
        await router.stop(grace=0)
