"""One test per row of the error table: each error reaches a real client as its status,
with google.rpc details; anything unexpected becomes a generic INTERNAL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any, cast

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from modelport.runtime import errors
from modelport.runtime.interceptors import ErrorInterceptor
from modelport.runtime.metrics import Metrics
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc

ROWS: list[tuple[Callable[[], errors.ModelportError], grpc.StatusCode]] = [
    (lambda: errors.InvalidArgument("inputs[2]", "is empty"), grpc.StatusCode.INVALID_ARGUMENT),
    (lambda: errors.NotFound("model 'x' is not served here"), grpc.StatusCode.NOT_FOUND),
    (lambda: errors.ModelNotReady("model 'x' is LOADING"), grpc.StatusCode.UNAVAILABLE),
    (
        lambda: errors.ResourceExhausted("queue full", subject="model:x", retry_after_s=0.1),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ),
    (lambda: errors.FailedPrecondition("not now"), grpc.StatusCode.FAILED_PRECONDITION),
    (lambda: errors.Unavailable("shutting down"), grpc.StatusCode.UNAVAILABLE),
    (lambda: errors.Unimplemented("router only"), grpc.StatusCode.UNIMPLEMENTED),
    (lambda: errors.DeadlineExceeded("no replica in time"), grpc.StatusCode.DEADLINE_EXCEEDED),
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


async def call(error: BaseException, streaming: bool = False) -> grpc.aio.AioRpcError:
    server = grpc.aio.server(interceptors=[ErrorInterceptor(Metrics())])
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


def test_every_error_class_has_a_row() -> None:
    classes = {row[0]().__class__ for row in ROWS}
    assert classes == set(errors.ModelportError.__subclasses__())


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


async def test_unexpected_exception_is_internal_without_leaking(caplog: Any) -> None:
    failure = await call(KeyError("secret-internal-path"))
    assert failure.code() is grpc.StatusCode.INTERNAL
    assert "secret" not in (failure.details() or "")
    assert "secret-internal-path" in caplog.text  # logged with its traceback


async def test_invalid_utf8_is_invalid_argument_naming_the_field() -> None:
    server = grpc.aio.server(interceptors=[ErrorInterceptor(Metrics())])
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

    from modelport.runtime.interceptors import _Call

    tracer = TracerProvider().get_tracer("test") if exporting else None
    details = SimpleNamespace(method="/modelport.v1.EmbeddingService/EmbedStream")
    details.invocation_metadata = ()
    call = _Call(tracer, cast(grpc.HandlerCallDetails, details))

    async def responses() -> AsyncGenerator[int, None]:
        with call.scope():
            yield 1
            yield 2

    stream = responses()
    assert await asyncio.create_task(stream.__anext__()) == 1  # suspended at its first yield
    await asyncio.create_task(stream.aclose())  # closed from a task of its own
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
