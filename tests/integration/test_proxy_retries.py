"""When the router may try another replica: only before a call was sent, decided from the
replica's connection, never from error text. Real grpc.aio servers on loopback port 0
stand in for the replicas and record what each call received."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from modelport.router.__main__ import RouterServer
from modelport.router.metrics import RouterMetrics
from modelport.router.pool import ReplicaPool
from modelport.router.proxy import RoutingProxy, route_key
from modelport.router.registry import Registration, Registry, ReplicaState, Source
from modelport.router.settings import RouterSettings
from modelport.serving.server import interceptors
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc

EMBED = "/modelport.v1.EmbeddingService/Embed"
COLLECT = "/test.Upload/Collect"
"""A client-streaming method: no routed service has one yet, the proxy forwards any."""
NEVER_SENT_TEXT = "failed to connect to all addresses; last error: connection refused"
"""What grpc-core says when it could not connect, as a replica's own error details."""


def embed_request(text: str = "x") -> embedding_pb2.EmbedRequest:
    return embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="m"), inputs=[text])


class Replica:
    """A replica stand-in: records the messages of each call, then answers OK or
    `fail` (after reading at most `read` messages of a client stream)."""

    def __init__(self, fail: tuple[grpc.StatusCode, str] | None = None, read: int = 0) -> None:
        self.fail = fail
        self.read = read
        self.calls: list[list[bytes]] = []
        self.server = grpc.aio.server()
        handlers = {
            "Embed": grpc.unary_unary_rpc_method_handler(self._unary),
        }
        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler("modelport.v1.EmbeddingService", handlers),
                grpc.method_handlers_generic_handler(
                    "test.Upload", {"Collect": grpc.stream_unary_rpc_method_handler(self._stream)}
                ),
            )
        )
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    async def _answer(self, context: Any) -> bytes:
        if self.fail is not None:
            await context.abort(*self.fail)
        return embedding_pb2.EmbedResponse().SerializeToString()

    async def _unary(self, request: bytes, context: Any) -> bytes:
        self.calls.append([request])
        return await self._answer(context)

    async def _stream(self, requests: AsyncIterator[bytes], context: Any) -> bytes:
        received: list[bytes] = []
        self.calls.append(received)
        async for request in requests:
            received.append(request)
            if len(received) == self.read:
                break
        return await self._answer(context)


@pytest.fixture
async def replicas() -> AsyncIterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for replica in started:
        await replica.server.stop(0)


async def serve(replicas: list[Replica], *new: Replica) -> None:
    for replica in new:
        await replica.server.start()
        replicas.append(replica)


def settings(tmp_path: Path) -> RouterSettings:
    return RouterSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        data_dir=tmp_path / "data",
        grace_period_s=0,
        connect_timeout_s=0.2,
    )


def static(endpoint: str) -> Registration:
    return Registration("m", "1", endpoint, "embedding", ReplicaState.READY, Source.STATIC)


def refused_endpoint() -> str:
    """An address nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[RouterServer]:
    server = RouterServer(settings(tmp_path))
    await server.start()
    yield server
    await server.stop(grace=0)


@pytest.fixture
async def stream_router(tmp_path: Path) -> AsyncIterator[tuple[Registry, str]]:
    """The router's registry, pool and proxy serving the client-streaming COLLECT."""
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    metrics = RouterMetrics()
    pool = ReplicaPool(
        settings(tmp_path), metrics, eject_after=3, connect_timeout_s=0.2, probe_interval_s=0.25
    )
    proxy = RoutingProxy(registry, pool, metrics)
    method = SimpleNamespace(client_streaming=True, server_streaming=False)
    server = grpc.aio.server(interceptors=interceptors(metrics))
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.Upload", {"Collect": proxy.handler(method, COLLECT, route_key)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield registry, f"127.0.0.1:{port}"
    await server.stop(0)
    await pool.close()


async def test_a_call_that_reached_a_replica_is_not_retried_whatever_its_error_says(
    router: RouterServer, replicas: list[Replica]
) -> None:
    failing = (grpc.StatusCode.UNAVAILABLE, NEVER_SENT_TEXT)
    a, b = Replica(fail=failing), Replica(fail=failing)
    await serve(replicas, a, b)
    router.registry.register(static(a.address))
    router.registry.register(static(b.address))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Embed(embed_request(), timeout=10)
    # the replica ran the call: sending it again would run it twice
    assert len(a.calls) + len(b.calls) == 1
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert info.value.details() == NEVER_SENT_TEXT  # the replica's own answer, relayed


async def test_an_unreachable_replica_is_skipped_before_the_call_is_sent(
    router: RouterServer, replicas: list[Replica]
) -> None:
    healthy = Replica()
    await serve(replicas, healthy)
    router.registry.register(static(refused_endpoint()))
    router.registry.register(static(healthy.address))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        for i in range(20):  # each call picks the unreachable replica first half the time
            await stub.Embed(embed_request(str(i)), timeout=10)
    assert [call[0] for call in healthy.calls] == [
        embed_request(str(i)).SerializeToString() for i in range(20)
    ]


async def test_a_client_stream_that_reached_a_replica_is_never_replayed(
    stream_router: tuple[Registry, str], replicas: list[Replica]
) -> None:
    registry, address = stream_router
    failing = (grpc.StatusCode.UNAVAILABLE, "connection refused")
    a, b = Replica(fail=failing, read=2), Replica(fail=failing, read=2)
    await serve(replicas, a, b)
    registry.register(static(a.address))
    registry.register(static(b.address))
    messages = [embed_request(str(i)).SerializeToString() for i in range(3)]

    async def upload() -> AsyncIterator[bytes]:
        for message in messages:
            yield message

    async with grpc.aio.insecure_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await channel.stream_unary(COLLECT, None, None)(upload(), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    # one replica got the stream; no other got a replay missing the messages consumed
    assert sorted([a.calls, b.calls], key=len) == [[], [messages[:2]]]


async def test_a_client_stream_skips_an_unreachable_replica_and_arrives_whole(
    stream_router: tuple[Registry, str], replicas: list[Replica]
) -> None:
    registry, address = stream_router
    healthy = Replica()
    await serve(replicas, healthy)
    registry.register(static(refused_endpoint()))
    registry.register(static(healthy.address))
    streams = [[embed_request(f"{i}.{j}").SerializeToString() for j in range(3)] for i in range(10)]

    async def upload(messages: list[bytes]) -> AsyncIterator[bytes]:
        for message in messages:
            yield message

    async with grpc.aio.insecure_channel(address) as channel:
        collect = channel.stream_unary(COLLECT, None, None)
        for messages in streams:
            await collect(upload(messages), timeout=10)
    assert healthy.calls == streams
