"""One trace from the client through the router to the backend's queue and compute,
collected by a real OTLP/gRPC receiver; JSON logs carry the trace and request ids."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc
from tests.helpers import ServiceProcess, free_port, models_file

pytestmark = pytest.mark.slow

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP trace receiver: keeps (service, span) of every export."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Any]] = []

    def Export(self, request: Any, context: Any) -> Any:
        for resource in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope in resource.scope_spans:
                self.spans.extend((service, span) for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    collector = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield collector, port
    server.stop(0)


def test_client_router_backend_spans_form_one_trace(
    receiver: tuple[Receiver, int],
    tmp_path: Path,
    tiny_bert_dir: Path,
    free_env: dict[str, str],
) -> None:
    collector, otlp_port = receiver
    env = {
        **free_env,
        "MODELPORT_OTLP_ENDPOINT": f"127.0.0.1:{otlp_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    router = ServiceProcess(
        "modelport.router", {**env, "MODELPORT_DATA_DIR": str(tmp_path / "data")}, free_port()
    ).start()
    router.wait_serving()
    backend = ServiceProcess(
        "modelport.embedding",
        {
            **env,
            "MODELPORT_ROUTER_ADDRESS": router.address,
            "MODELPORT_MODELS_FILE": str(
                models_file(
                    tmp_path / "m.yaml",
                    {"name": "traced", "runtime": "sentence-embedding", "path": str(tiny_bert_dir)},
                )
            ),
        },
        free_port(),
    ).start()
    try:
        backend.wait_serving()
        with grpc.insecure_channel(router.address) as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            request = embedding_pb2.EmbedRequest(
                model=common_pb2.ModelRef(name="traced"), inputs=["follow me"]
            )
            deadline = time.monotonic() + 20
            while True:  # the backend registers right after SERVING
                try:
                    stub.Embed(
                        request,
                        timeout=10,
                        metadata=(("traceparent", f"00-{TRACE_ID}-{CLIENT_SPAN}-01"),),
                    )
                    break
                except grpc.RpcError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)

        def ours() -> list[tuple[str, Any]]:
            return [(s, span) for s, span in collector.spans if span.trace_id.hex() == TRACE_ID]

        deadline = time.monotonic() + 20
        while len({(s, span.name) for s, span in ours()}) < 4:
            assert time.monotonic() < deadline, [(s, sp.name) for s, sp in ours()]
            time.sleep(0.1)
        spans = {(service, span.name): span for service, span in ours()}
        method = "/modelport.v1.EmbeddingService/Embed"
        routed = spans[("modelport-router", method)]
        served = spans[("modelport-embedding", method)]
        queue = spans[("modelport-embedding", "queue")]
        compute = spans[("modelport-embedding", "compute")]
        assert routed.parent_span_id.hex() == CLIENT_SPAN
        assert served.parent_span_id == routed.span_id
        assert queue.parent_span_id == served.span_id
        assert compute.parent_span_id == served.span_id
        attributes = {a.key: a.value for a in compute.attributes}
        assert attributes["modelport.batch_size"].int_value >= 1
        routed_attributes = {a.key: a.value.string_value for a in routed.attributes}
        assert routed_attributes["modelport.replica"] == backend.address
    finally:
        backend.stop()
        router.stop()


def test_json_logs_carry_trace_and_request_ids(
    tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "modelport.embedding"],
        env={
            **free_env,
            "MODELPORT_HOST": "127.0.0.1",
            "MODELPORT_PORT": str(port),
            "MODELPORT_METRICS_PORT": "-1",
            "MODELPORT_LOG_FORMAT": "json",
            "MODELPORT_LOG_LEVEL": "DEBUG",
            "MODELPORT_MODELS_FILE": str(
                models_file(
                    tmp_path / "m.yaml",
                    {"name": "m", "runtime": "sentence-embedding", "path": str(tiny_bert_dir)},
                )
            ),
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        from modelport.suite import wait_serving

        assert wait_serving(f"127.0.0.1:{port}", 120)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            with pytest.raises(grpc.RpcError):
                stub.Embed(
                    embedding_pb2.EmbedRequest(
                        model=common_pb2.ModelRef(name="nope"), inputs=["x"]
                    ),
                    timeout=5,
                    metadata=(
                        ("traceparent", f"00-{TRACE_ID}-{CLIENT_SPAN}-01"),
                        ("x-request-id", "req-42"),
                    ),
                )
    finally:
        process.terminate()
        _, err = process.communicate(timeout=60)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines, err[-2000:]
    assert all(
        {"time", "level", "logger", "message", "trace_id", "request_id"} <= set(line)
        for line in lines
    )
    failed = [line for line in lines if "NOT_FOUND" in line["message"]]
    assert failed, [line["message"] for line in lines]
    assert failed[0]["trace_id"] == TRACE_ID
    assert failed[0]["request_id"] == "req-42"
