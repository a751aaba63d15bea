"""One test per row of the error table: each error reaches a real client as its status,
with google.rpc details; anything unexpected becomes a generic INTERNAL."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pkgutil
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from modelport.serving import errors
from modelport.serving.calls import record_model
from modelport.serving.catalog import Task, wrong_rpc
from modelport.serving.metrics import Metrics
from modelport.serving.server import interceptors
from modelport.serving.tracing import request_id
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc

ROWS: list[tuple[Callable[[], errors.ModelportError], grpc.StatusCode]] = [
    (lambda: errors.InvalidArgument("inputs[2]", "is empty"), grpc.StatusCode.INVALID_ARGUMENT),
    (lambda: errors.NotFound("model 'x' is not served here"), grpc.StatusCode.NOT_FOUND),
    (lambda: errors.PermissionDenied("not your endpoint"), grpc.StatusCode.PERMISSION_DENIED),
    (lambda: errors.ModelNotReady("model 'x' is LOADING"), grpc.StatusCode.UNAVAILABLE),
    (
        lambda: errors.ResourceExhausted("queue full", subject="model:x", retry_after_s=0.1),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ),
    (lambda: errors.FailedPrecondition("not now"), grpc.StatusCode.FAILED_PRECONDITION),
    (lambda: errors.Unavailable("shutting down"), grpc.StatusCode.UNAVAILABLE),
    (lambda: errors.Unimplemented("router only"), grpc.StatusCode.UNIMPLEMENTED),
    (lambda: errors.DeadlineExceeded("too late"), grpc.StatusCode.DEADLINE_EXCEEDED),
    (lambda: errors.ConfigError("unknown runtime"), grpc.StatusCode.FAILED_PRECONDITION),
]


class Raising(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def Embed(self, request: Any, context: Any) -> Any:
        raise self.error

    async def EmbedStream(self, requests: AsyncIterator[Any], context: Any) -> Any:
        async for _ in requests:
            yield embedding_pb2.EmbedResponse()
            raise self.error


async def call(
    error: BaseException, streaming: bool = False, metrics: Metrics | None = None
) -> grpc.aio.AioRpcError:
    server = grpc.aio.server(interceptors=interceptors(metrics or Metrics()))
    embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(Raising(error), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            request = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="m"))

            async def rpc() -> None:
                if streaming:
                    async for _ in stub.EmbedStream(iter([request]), timeout=5):
                        pass
                else:
                    await stub.Embed(request, timeout=5)

            with pytest.raises(grpc.aio.AioRpcError) as info:
                await rpc()
            return info.value
    finally:
        await server.stop(0)


def all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    direct: type
    for direct in cls.__subclasses__():
        found |= {direct, *all_subclasses(direct)}
    return found


def test_every_error_class_has_a_row_here_and_in_the_readme() -> None:
    """Every subclass anywhere in the package, not only those imported so far."""
    import modelport

    for module in pkgutil.walk_packages(modelport.__path__, "modelport."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    classes = all_subclasses(errors.ModelportError)
    assert {row[0]().__class__ for row in ROWS} == classes
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert all(f"| `{cls.__name__}` |" in readme for cls in classes)


@pytest.mark.parametrize(("make_error", "code"), ROWS, ids=lambda x: getattr(x, "name", ""))
async def test_error_maps_to_status(
    make_error: Callable[[], errors.ModelportError], code: grpc.StatusCode
) -> None:
    error = make_error()
    assert error.code is code
    for streaming in (False, True):
        failure = await call(error, streaming)
        assert failure.code() is code
        assert failure.details() == error.message


async def test_invalid_argument_carries_bad_request_field_violations() -> None:
    failure = await call(errors.InvalidArgument("inputs[2]", "is empty"))
    status = rpc_status.from_call(failure)  # type: ignore[arg-type]
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [("inputs[2]", "is empty")]


async def test_resource_exhausted_carries_quota_failure_and_retry_info() -> None:
    failure = await call(
        errors.ResourceExhausted("queue full", subject="model:x", retry_after_s=0.25)
    )
    status = rpc_status.from_call(failure)  # type: ignore[arg-type]
    assert status is not None
    quota, retry = error_details_pb2.QuotaFailure(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(quota)
    assert status.details[1].Unpack(retry)
    assert quota.violations[0].subject == "model:x"
    assert retry.retry_delay.ToMilliseconds() == 250


async def test_a_model_that_is_loading_carries_retry_info() -> None:
    failure = await call(errors.ModelNotReady("model 'x' is loading; retry", retry_after_s=1.0))
    assert failure.code() is grpc.StatusCode.UNAVAILABLE
    status = rpc_status.from_call(failure)  # type: ignore[arg-type]
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry)
    assert retry.retry_delay.ToMilliseconds() == 1000


def test_a_wrong_rpc_names_the_task_and_the_rpc_that_serves_it() -> None:
    error = wrong_rpc("sentiment", Task.TEXT_CLASSIFICATION, "/modelport.v1.EmbeddingService/Embed")
    assert isinstance(error, errors.FailedPrecondition)
    assert error.message == (
        "model 'sentiment' is a text-classification model: call "
        "modelport.v1.NlpService/Classify (EmbeddingService/Embed serves embedding models)"
    )
    assert (
        wrong_rpc("sentiment", Task.TEXT_CLASSIFICATION, "modelport.v1.NlpService/Classify") is None
    )
    oip = "/inference.GRPCInferenceService/ModelInfer"
    assert wrong_rpc("sentiment", Task.TEXT_CLASSIFICATION, oip) is None  # every task


async def test_unexpected_exception_is_internal_without_leaking(caplog: Any) -> None:
    failure = await call(KeyError("secret-internal-path"))
    assert failure.code() is grpc.StatusCode.INTERNAL
    assert "secret" not in (failure.details() or "")
    assert "secret-internal-path" in caplog.text  # logged with its traceback


async def test_an_unimplemented_generated_method_is_unimplemented_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """grpc.health.v1.Health/List is open to anyone and not implemented by grpcio-health:
    UNIMPLEMENTED, and no ERROR line with a traceback per call."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from modelport.serving.server import GrpcServer
    from modelport.serving.settings import CommonSettings

    server = GrpcServer(CommonSettings(host="127.0.0.1", port=0, metrics_port=-1), [], Metrics())
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await health_pb2_grpc.HealthStub(channel).List(
                    health_pb2.HealthListRequest(), timeout=5
                )
    finally:
        await server.stop(grace=0)
    assert info.value.code() is grpc.StatusCode.UNIMPLEMENTED
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


async def test_invalid_utf8_is_invalid_argument_naming_the_field() -> None:
    metrics = Metrics()
    server = grpc.aio.server(interceptors=interceptors(metrics))
    embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(Raising(AssertionError()), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            raw = channel.unary_unary("/modelport.v1.EmbeddingService/Embed", None, None)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await raw(b"\x12\x02ok\x12\x02\xff\xfe", timeout=5)
            assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
            assert info.value.details() == "inputs[1]: is not valid UTF-8"
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await raw(b"\xff\xff\xff", timeout=5)
            assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await server.stop(0)
    assert calls(metrics, "Embed", "INVALID_ARGUMENT") == 2  # observed as what the client saw


async def test_cancelled_handler_is_not_reported_as_error() -> None:
    failure = await call(asyncio.CancelledError())
    assert failure.code() is grpc.StatusCode.CANCELLED


@pytest.mark.parametrize("exporting", [False, True])
async def test_stream_closed_by_the_finaliser_logs_no_error(
    exporting: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that goes away while its response stream waits at a `yield` leaves the
    generator to the event loop's finaliser, which closes it in another task: the call's
    trace context cannot (and need not) be restored there, and that is not an error."""
    from opentelemetry.sdk.trace import TracerProvider

    from modelport.serving.interceptors import _server_span

    tracer = TracerProvider().get_tracer("test") if exporting else None

    async def responses() -> AsyncGenerator[int, None]:
        with _server_span(tracer, "/modelport.v1.EmbeddingService/EmbedStream", ()):
            yield 1
            yield 2

    stream = responses()
    assert await asyncio.create_task(stream.__anext__()) == 1  # suspended at its first yield
    await asyncio.create_task(stream.aclose())  # closed from a task of its own
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


def calls(metrics: Metrics, method: str, code: str, model: str = "", version: str = "") -> float:
    """Calls counted by the request-duration histogram with these labels."""
    labels = {
        "method": f"/modelport.v1.EmbeddingService/{method}",
        "model": model,
        "version": version,
        "code": code,
    }
    return (
        metrics.registry.get_sample_value("modelport_request_duration_seconds_count", labels) or 0
    )


async def test_metrics_count_the_status_the_client_got() -> None:
    metrics = Metrics()
    await call(errors.NotFound("no such model"), metrics=metrics)
    await call(KeyError("bug"), streaming=True, metrics=metrics)
    assert calls(metrics, "Embed", "NOT_FOUND") == 1
    assert calls(metrics, "EmbedStream", "INTERNAL") == 1


class Endless(embedding_pb2_grpc.EmbeddingServiceServicer):
    """A response stream that answers once and then waits (a watch with nothing new)."""

    async def Embed(self, request: Any, context: Any) -> Any:
        raise NotImplementedError

    async def EmbedStream(self, requests: AsyncIterator[Any], context: Any) -> Any:
        yield embedding_pb2.EmbedResponse()
        await asyncio.Event().wait()


async def test_a_stream_the_client_cancels_is_counted_as_cancelled() -> None:
    """The client goes away while the stream waits: CANCELLED, not the INTERNAL of a bug."""
    metrics = Metrics()
    async with serving(Endless(), metrics) as stub:
        call = stub.EmbedStream(iter([embedding_pb2.EmbedRequest()]))
        await call.read()
        call.cancel()
        for _ in range(200):
            if calls(metrics, "EmbedStream", "CANCELLED"):
                break
            await asyncio.sleep(0.025)
    assert calls(metrics, "EmbedStream", "CANCELLED") == 1
    assert calls(metrics, "EmbedStream", "INTERNAL") == 0


class Labelling(embedding_pb2_grpc.EmbeddingServiceServicer):
    """Records the model of each call from a task of its own, as EmbedStream does."""

    async def Embed(self, request: Any, context: Any) -> Any:
        record_model(context, request.model.name, "7")
        return embedding_pb2.EmbedResponse(model=request.model)

    async def EmbedStream(self, requests: AsyncIterator[Any], context: Any) -> Any:
        async for request in requests:
            yield await asyncio.create_task(self.Embed(request, context))


@contextlib.asynccontextmanager
async def serving(
    servicer: embedding_pb2_grpc.EmbeddingServiceServicer, metrics: Metrics
) -> AsyncIterator[Any]:
    """An (aio) stub of `servicer` served on a real server behind the interceptors."""
    server = grpc.aio.server(interceptors=interceptors(metrics))
    embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield embedding_pb2_grpc.EmbeddingServiceStub(channel)
    finally:
        await server.stop(0)


async def test_model_recorded_in_a_child_task_labels_the_call() -> None:
    metrics = Metrics()
    async with serving(Labelling(), metrics) as stub:
        request = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="m"))
        await stub.Embed(request, timeout=5)
        assert [r.model.name async for r in stub.EmbedStream(iter([request]), timeout=5)] == ["m"]
    assert calls(metrics, "Embed", "OK", "m", "7") == 1
    assert calls(metrics, "EmbedStream", "OK", "m", "7") == 1


class PerCall(Labelling):
    """Answers with the request id its call runs under and the model it names; models
    named "bad-*" fail, and every call yields to the others once before answering."""

    async def Embed(self, request: Any, context: Any) -> Any:
        record_model(context, request.model.name, "1")
        await asyncio.sleep(0)
        if request.model.name.startswith("bad-"):
            raise errors.NotFound(f"model {request.model.name!r} is not served here")
        return embedding_pb2.EmbedResponse(model=request.model, request_id=request_id.get())


async def test_concurrent_calls_of_one_method_keep_their_own_id_status_and_labels() -> None:
    """The interceptors wrap each method once and reuse the wrapping: what belongs to a
    call (its request id, its status, its metric labels) stays with that call."""
    metrics = Metrics()
    async with serving(PerCall(), metrics) as stub:

        async def one(i: int) -> tuple[str, str]:
            name = f"bad-{i}" if i % 3 == 0 else f"m{i}"
            request = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=name))
            metadata = (("x-request-id", f"call-{i}"),)
            try:
                response = await stub.Embed(request, timeout=5, metadata=metadata)
            except grpc.aio.AioRpcError as error:
                return error.code().name, error.details() or ""
            return response.model.name, response.request_id

        answers = await asyncio.gather(*(one(i) for i in range(30)))
    for i, answer in enumerate(answers):
        if i % 3 == 0:
            assert answer == ("NOT_FOUND", f"model 'bad-{i}' is not served here")
            assert calls(metrics, "Embed", "NOT_FOUND", f"bad-{i}", "1") == 1
        else:
            assert answer == (f"m{i}", f"call-{i}")
            assert calls(metrics, "Embed", "OK", f"m{i}", "1") == 1
