"""Property-based fuzzing of every unary RPC, on a backend and through the router:
random bytes and mutations of valid requests never produce INTERNAL, UNKNOWN or a hang,
and every INVALID_ARGUMENT names the field it is about."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelport.embedding.__main__ import build
from modelport.oip.v2 import open_inference_pb2 as oip
from modelport.runtime.server import InferenceServer
from modelport.runtime.settings import ModelSpec
from modelport.v1 import common_pb2, embedding_pb2, registry_pb2
from tests.helpers import ServiceProcess, free_port, loopback_settings, running_server

pytestmark = pytest.mark.slow

EXAMPLES = 1700  # per target; six targets: over 10,000 cases
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}

SEEDS: dict[str, bytes] = {
    "/modelport.v1.EmbeddingService/Embed": embedding_pb2.EmbedRequest(
        model=common_pb2.ModelRef(name="fuzz"),
        inputs=["hello", "world"],
        dimensions=8,
    ).SerializeToString(),
    "/inference.GRPCInferenceService/ModelInfer": oip.ModelInferRequest(
        model_name="fuzz",
        inputs=[
            oip.ModelInferRequest.InferInputTensor(
                name="text",
                datatype="BYTES",
                shape=[1],
                contents=oip.InferTensorContents(bytes_contents=[b"hello"]),
            )
        ],
    ).SerializeToString(),
    "/modelport.v1.RegistryService/ListModels": registry_pb2.ListModelsRequest(
        ready_only=True
    ).SerializeToString(),
}


@st.composite
def payloads(draw: Any, seed: bytes) -> bytes:
    """Random bytes, or the seed request truncated, bit-flipped, spliced or extended."""
    kind = draw(st.sampled_from(["random", "truncate", "flip", "splice", "extend"]))
    if kind == "random":
        return draw(st.binary(max_size=512))  # type: ignore[no-any-return]
    data = bytearray(seed)
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if kind == "splice":
        i = draw(st.integers(0, len(data)))
        return bytes(data[:i] + draw(st.binary(max_size=64)) + data[i:])
    return bytes(data + draw(st.binary(min_size=1, max_size=256)))


@pytest.fixture(scope="module")
def backend(tiny_bert_dir: Path) -> Iterator[InferenceServer]:
    models = [ModelSpec(name="fuzz", runtime="sentence-embedding", path=tiny_bert_dir)]
    with running_server(build, loopback_settings(max_inputs_per_request=64), models) as server:
        yield server


@pytest.fixture(scope="module")
def router(
    backend: InferenceServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    import os

    process = ServiceProcess(
        "modelport.router",
        {
            **os.environ,
            "MODELPORT_DATA_DIR": str(tmp_path_factory.mktemp("data")),
            "MODELPORT_STATIC_REPLICAS": json.dumps(
                [{"name": "fuzz", "endpoint": f"127.0.0.1:{backend.port}"}]
            ),
        },
        free_port(),
    ).start()
    try:
        process.wait_serving()
        yield process
    finally:
        process.stop()


def check(channel: grpc.Channel, method: str, payload: bytes) -> None:
    call = channel.unary_unary(method, None, None)
    error: grpc.RpcError | None = None
    try:
        call(payload, timeout=10)
    except grpc.RpcError as exc:
        error = exc
    if error is None:
        return
    assert isinstance(error, grpc.Call)
    code, details = error.code(), error.details() or ""
    assert code in ALLOWED, f"{method} {payload!r}: {code.name} {details}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        field, sep, _ = details.partition(": ")
        assert sep, f"{method} {payload!r}: no field named in {details!r}"
        assert field, details


@pytest.mark.parametrize("method", sorted(SEEDS))
@pytest.mark.parametrize("target", ["backend", "router"])
def test_rpcs_survive_random_and_mutated_requests(
    method: str, target: str, backend: InferenceServer, router: ServiceProcess
) -> None:
    address = f"127.0.0.1:{backend.port}" if target == "backend" else router.address

    with grpc.insecure_channel(address) as channel:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(payloads(SEEDS[method]))
        def run(payload: bytes) -> None:
            check(channel, method, payload)

        run()
        # and the server is still fine afterwards
        check(channel, method, SEEDS[method])
