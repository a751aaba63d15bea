"""Shadow traffic and split pinning in a real router, with two replica stand-ins that
answer Classify as versions 1 and 2 of one model (each with its own label), so what the
caller gets and what the shadow compared can be told apart."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from modelport.router.__main__ import RouterServer
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    nlp_pb2,
    nlp_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.helpers import start_router

CLASSIFY = "/modelport.v1.NlpService/Classify"


class Replica:
    """Answers Classify as `version` of model `m`, labelling every input `label`, and
    Embed as `version` of model `e`, with `vector` for every input; records each Classify
    request as it arrived. While `gate` is clear, calls wait for it."""

    def __init__(self, version: str, label: str, vector: list[float]) -> None:
        self.requests: list[nlp_pb2.ClassifyRequest] = []
        self.gate = threading.Event()
        self.gate.set()
        self.server = grpc.server(futures.ThreadPoolExecutor(8))

        def classify(raw: bytes, context: grpc.ServicerContext) -> bytes:
            request = nlp_pb2.ClassifyRequest.FromString(raw)
            self.requests.append(request)
            self.gate.wait(30)
            results = [
                common_pb2.Classification(labels=[common_pb2.LabelScore(label=label, score=1.0)])
                for _ in request.inputs
            ]
            return nlp_pb2.ClassifyResponse(
                model=common_pb2.ModelRef(name="m", version=version), results=results
            ).SerializeToString()

        def embed(raw: bytes, context: grpc.ServicerContext) -> bytes:
            request = embedding_pb2.EmbedRequest.FromString(raw)
            return embedding_pb2.EmbedResponse(
                model=common_pb2.ModelRef(name="e", version=version),
                embeddings=[embedding_pb2.Embedding(values=vector) for _ in request.inputs],
            ).SerializeToString()

        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "modelport.v1.NlpService",
                    {"Classify": grpc.unary_unary_rpc_method_handler(classify)},
                ),
                grpc.method_handlers_generic_handler(
                    "modelport.v1.EmbeddingService",
                    {"Embed": grpc.unary_unary_rpc_method_handler(embed)},
                ),
            )
        )
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()


@pytest.fixture
def replicas() -> Iterator[tuple[Replica, Replica]]:
    one, two = Replica("1", "positive", [1.0, 0.0]), Replica("2", "negative", [1.0, 1.0])
    yield one, two
    for r in (one, two):
        r.gate.set()
        r.server.stop(0)


async def router_with(
    tmp_path: Path, one: Replica, two: Replica, **settings: object
) -> RouterServer:
    return await start_router(
        tmp_path,
        static_replicas=[
            {"name": "m", "version": "1", "endpoint": one.address, "task": "text-classification"},
            {"name": "m", "version": "2", "endpoint": two.address, "task": "text-classification"},
            {"name": "e", "version": "1", "endpoint": one.address, "task": "embedding"},
            {"name": "e", "version": "2", "endpoint": two.address, "task": "embedding"},
        ],
        **settings,
    )


async def classify(channel: grpc.aio.Channel, version: str = "") -> nlp_pb2.ClassifyResponse:
    stub = nlp_pb2_grpc.NlpServiceStub(channel)
    request = nlp_pb2.ClassifyRequest(
        model=common_pb2.ModelRef(name="m", version=version), inputs=["a", "b"]
    )
    return await stub.Classify(request, timeout=10)


async def test_copies_are_compared_and_never_returned(
    tmp_path: Path, replicas: tuple[Replica, Replica]
) -> None:
    one, two = replicas
    router = await router_with(tmp_path, one, two)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            await registry.SetTrafficSplit(
                registry_pb2.SetTrafficSplitRequest(name="m", weights={"1": 1})
            )
            status = await registry.SetShadow(
                registry_pb2.SetShadowRequest(name="m", version="2", fraction=1.0)
            )
            assert (status.version, status.fraction, status.mirrored) == ("2", 1.0, 0)
            answers = [await classify(channel) for _ in range(5)]
            assert {a.model.version for a in answers} == {"1"}
            assert {a.results[0].labels[0].label for a in answers} == {"positive"}
            await classify(channel, version="1")  # pinned calls are not copied
            for _ in range(100):
                status = await registry.GetShadow(registry_pb2.GetShadowRequest(name="m"))
                if status.compared == 10:
                    break
                await asyncio.sleep(0.05)
            assert (status.mirrored, status.compared, status.agreed, status.errors) == (5, 10, 0, 0)
            # the split's choice is pinned in what v1's replica got; the copies pin v2
            assert [r.model.version for r in one.requests] == ["1"] * 6
            assert [r.model.version for r in two.requests] == ["2"] * 5
            assert {r.model.name for r in one.requests + two.requests} == {"m"}
            metrics = router.metrics.registry.get_sample_value(
                "modelport_router_shadow_answers_total",
                {"model": "m", "version": "2", "outcome": "disagree"},
            )
            assert metrics == 10
            stopped = await registry.SetShadow(registry_pb2.SetShadowRequest(name="m"))
            assert stopped.version == ""
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await registry.GetShadow(registry_pb2.GetShadowRequest(name="m"))
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await router.stop(0)


async def test_copies_beyond_the_bound_are_dropped_and_callers_never_wait(
    tmp_path: Path, replicas: tuple[Replica, Replica]
) -> None:
    one, two = replicas
    router = await router_with(tmp_path, one, two, shadow_max_inflight=1)
    two.gate.clear()  # the shadow version hangs
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            await registry.SetTrafficSplit(
                registry_pb2.SetTrafficSplitRequest(name="m", weights={"1": 1})
            )
            await registry.SetShadow(
                registry_pb2.SetShadowRequest(name="m", version="2", fraction=1.0)
            )
            answers = [await classify(channel) for _ in range(4)]
            assert [a.model.version for a in answers] == ["1"] * 4
            status = await registry.GetShadow(registry_pb2.GetShadowRequest(name="m"))
            assert (status.mirrored, status.dropped) == (1, 3)
    finally:
        two.gate.set()
        await router.stop(0)


async def test_vectors_are_compared_by_cosine(
    tmp_path: Path, replicas: tuple[Replica, Replica]
) -> None:
    router = await router_with(tmp_path, *replicas)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            await registry.SetTrafficSplit(
                registry_pb2.SetTrafficSplitRequest(name="e", weights={"1": 1})
            )
            await registry.SetShadow(
                registry_pb2.SetShadowRequest(name="e", version="2", fraction=1.0)
            )
            embed = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            request = embedding_pb2.EmbedRequest(
                model=common_pb2.ModelRef(name="e"), inputs=["x", "y", "z"]
            )
            answer = await embed.Embed(request, timeout=10)
            assert [list(e.values) for e in answer.embeddings] == [[1.0, 0.0]] * 3
            for _ in range(100):
                status = await registry.GetShadow(registry_pb2.GetShadowRequest(name="e"))
                if status.vectors == 3:
                    break
                await asyncio.sleep(0.05)
            assert (status.vectors, status.compared) == (3, 0)
            assert status.mean_cosine == pytest.approx(2**-0.5)
            count = router.metrics.registry.get_sample_value(
                "modelport_router_shadow_cosine_count", {"model": "e", "version": "2"}
            )
            assert count == 3
    finally:
        await router.stop(0)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (registry_pb2.SetShadowRequest(name="m", version="9", fraction=0.5), "version"),
        (registry_pb2.SetShadowRequest(name="m", version="2", fraction=1.5), "fraction"),
        (registry_pb2.SetShadowRequest(name="m", fraction=0.5), "version"),
        (registry_pb2.SetShadowRequest(version="2", fraction=0.5), "name"),
    ],
)
async def test_bad_shadow_settings_name_the_field(
    tmp_path: Path,
    replicas: tuple[Replica, Replica],
    request_: registry_pb2.SetShadowRequest,
    field: str,
) -> None:
    router = await router_with(tmp_path, *replicas)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
            registry = registry_pb2_grpc.RegistryServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await registry.SetShadow(request_)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (info.value.details() or "")
    finally:
        await router.stop(0)
