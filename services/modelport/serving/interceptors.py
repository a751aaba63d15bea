"""The server interceptors, each doing one thing. `serving.server.interceptors` composes
them in one order, outermost first:

1. `ObservabilityInterceptor` opens the server span (with the caller's W3C trace
   context), sets the request id and the fair-share key (`serving.calls.fair_share`; the
   auth interceptor refines it), makes the call's `CallRecord` (servicers reach it
   through their context, see `serving.calls`) and observes the call's duration by
   method, model, version and status code.
2. `ErrorInterceptor` turns a `ModelportError` into its status, with `google.rpc` details
   in the trailers, a `NotImplementedError` (a generated servicer's unimplemented method)
   into UNIMPLEMENTED, and anything else into INTERNAL with a generic message (the
   traceback is logged).
3. `RequestParsingInterceptor` turns a request that protobuf cannot parse into
   INVALID_ARGUMENT naming the field when it can be found (invalid UTF-8 in a string),
   instead of grpc's bare INTERNAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry import context as otel_context
from opentelemetry import trace

from modelport.serving.calls import (
    CallContext,
    CallRecord,
    call_holds,
    fair_share,
    fair_share_key,
    routed_to,
    routed_version,
)
from modelport.serving.errors import InvalidArgument, ModelportError, ResourceExhausted
from modelport.serving.metrics import Metrics
from modelport.serving.tracing import extract, new_request_id, request_id
from modelport.serving.wire import find_invalid_utf8

log = logging.getLogger(__name__)

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Metadata: TypeAlias = Sequence[tuple[str, str | bytes]]
Scope: TypeAlias = Callable[[Any, Any, bool], AbstractAsyncContextManager[tuple[Any, Any]]]
"""Around one call: given (request, context, request is a stream), an async context
manager that yields the (request, context) the inner behaviour gets."""


class _Malformed:
    """Stands in for a request that could not be parsed."""

    def __init__(self, error: InvalidArgument) -> None:
        self.error = error


def _safe_deserializer(
    deserialize: Callable[[bytes], Any],
) -> Callable[[bytes], Any]:
    message_class = getattr(deserialize, "__self__", None)

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError:
            descriptor = getattr(message_class, "DESCRIPTOR", None)
            field = find_invalid_utf8(descriptor, data) if descriptor is not None else None
            if field:
                return _Malformed(InvalidArgument(field, "is not valid UTF-8"))
            return _Malformed(InvalidArgument("request", "is not a valid protobuf message"))

    return parse


def to_status(error: ModelportError) -> grpc.Status:
    """The gRPC status (with rich details) for one of our errors."""
    details: list[any_pb2.Any] = []
    if isinstance(error, InvalidArgument):
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        details.append(_pack(bad))
    if isinstance(error, ResourceExhausted) and error.violations:
        quota = error_details_pb2.QuotaFailure(
            violations=[
                error_details_pb2.QuotaFailure.Violation(
                    subject=v.subject, description=v.description
                )
                for v in error.violations
            ]
        )
        details.append(_pack(quota))
    if error.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after_s * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    status = status_pb2.Status(
        code=getattr(code_pb2, error.code.name), message=error.message, details=details
    )
    return rpc_status.to_status(status)


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def around(handler: Any, scope: Scope) -> Any:
    """`handler` with its behaviour, of any cardinality, run inside `scope`."""
    if handler.unary_unary is not None:
        return handler._replace(unary_unary=_unary_response(handler.unary_unary, scope, False))
    if handler.stream_unary is not None:
        return handler._replace(stream_unary=_unary_response(handler.stream_unary, scope, True))
    if handler.unary_stream is not None:
        return handler._replace(unary_stream=_stream_response(handler.unary_stream, scope, False))
    if handler.stream_stream is not None:
        return handler._replace(stream_stream=_stream_response(handler.stream_stream, scope, True))
    return handler


def _unary_response(behaviour: Any, scope: Scope, streaming: bool) -> Any:
    async def call(request: Any, context: Any) -> Any:
        async with scope(request, context, streaming) as (inner_request, inner_context):
            return await behaviour(inner_request, inner_context)

    return call


def _stream_response(behaviour: Any, scope: Scope, streaming: bool) -> Any:
    async def call(request: Any, context: Any) -> Any:
        async with scope(request, context, streaming) as (inner_request, inner_context):
            result = behaviour(inner_request, inner_context)
            if inspect.isasyncgen(result):
                async for response in result:
                    yield response
            else:  # the reader/writer API: a coroutine that writes to the context
                await result

    return call


class _WrappingInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps the behaviour of every method handler found (unknown methods pass).

    A wrapping depends only on the method and the handler below, so it is made once per
    method and reused while the handler below is the same object (it is, for every call of
    a method, unless an inner interceptor wraps per call): per-call state lives in the
    scope each call enters, never in the wrapping."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}
        """method → (the handler below, its wrapping)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped: Handler = self.wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def wrap(self, handler: Any, method: str) -> Any:
        raise NotImplementedError


# -- observability ------------------------------------------------------------------------
class ObservabilityInterceptor(_WrappingInterceptor):
    """The server span, request id, `CallRecord` and duration metric of every RPC."""

    def __init__(self, metrics: Metrics, tracer: trace.Tracer | None = None) -> None:
        super().__init__()
        self._metrics = metrics
        self._tracer = tracer

    def wrap(self, handler: Any, method: str) -> Any:
        metrics = self._metrics
        tracer = self._tracer

        @contextlib.asynccontextmanager
        async def observed(
            request: Any, context: Context, streaming: bool
        ) -> AsyncIterator[tuple[Any, Any]]:
            start = time.perf_counter()
            metadata = tuple(context.invocation_metadata() or ())
            headers = dict(metadata)
            record = CallRecord(method, new_request_id(headers))
            request_id.set(record.request_id)
            fair_share.set(fair_share_key(headers, context.peer() or "", None))
            routed_version.set(routed_to(headers, None))
            holds: list[Callable[[], None]] = []
            call_holds.set(holds)
            code = grpc.StatusCode.OK
            with _server_span(tracer, method, metadata) as span:
                try:
                    yield request, CallContext(context, record)
                except BaseException as exc:
                    code = _status_code(exc, context)
                    raise
                finally:
                    for release in holds:
                        release()
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    metrics.observe_call(
                        method, record.model, record.version, code, time.perf_counter() - start
                    )

        return around(handler, observed)


@contextlib.contextmanager
def _server_span(
    tracer: trace.Tracer | None, method: str, metadata: Metadata
) -> Iterator[trace.Span]:
    """The SERVER span of one call, child of the caller's trace context; without a tracer,
    only the caller's context, made current."""
    caller = extract(metadata)
    if tracer is None:  # not exporting: carry the caller's context along only
        with _attached(caller):
            yield trace.get_current_span()
        return
    span = tracer.start_span(
        method,
        context=caller,
        kind=trace.SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.method": method},
    )
    try:
        with _attached(trace.set_span_in_context(span, caller)):
            yield span
    except BaseException as exc:
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        span.end()


@contextlib.contextmanager
def _attached(context: otel_context.Context) -> Iterator[None]:
    """Make `context` current for the call. A response stream whose client went away
    while it was suspended at a `yield` is closed later by the event loop's async
    generator finaliser, in a task of its own: the token then belongs to another context
    and there is nothing to restore. `otel_context.detach` would log that as an error on
    every such stream, so the token is reset directly (the SDK's runtime context is
    contextvars)."""
    token = otel_context.attach(context)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            token.var.reset(token)


def _status_code(exc: BaseException, context: Context) -> grpc.StatusCode:
    """The status a call that raised `exc` ends with. A response stream whose client went
    away is closed at its `yield` (GeneratorExit) or cancelled: CANCELLED, not a bug."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit) or context.cancelled():
        return grpc.StatusCode.CANCELLED
    if isinstance(exc, grpc.aio.AbortError):
        return context.code() or grpc.StatusCode.UNKNOWN
    if isinstance(exc, ModelportError):
        return exc.code
    return grpc.StatusCode.INTERNAL


# -- errors -------------------------------------------------------------------------------
class ErrorInterceptor(_WrappingInterceptor):
    """Ends every call that raises with a status: ours with its code and details, anything
    else INTERNAL (logged)."""

    def wrap(self, handler: Any, method: str) -> Any:
        @contextlib.asynccontextmanager
        async def mapped(
            request: Any, context: Any, streaming: bool
        ) -> AsyncIterator[tuple[Any, Any]]:
            try:
                yield request, context
            except BaseException as exc:
                await _abort(exc, context, method)
                raise

        return around(handler, mapped)


async def _abort(exc: BaseException, context: Context, method: str) -> None:
    """Abort the call with the status for `exc` (raises AbortError); pass through the rest."""
    if isinstance(exc, ModelportError):
        log.debug("%s failed: %s %s", method, exc.code.name, exc.message)
        status = to_status(exc)
        await context.abort(status.code, status.details, status.trailing_metadata)
    elif isinstance(exc, asyncio.CancelledError):
        # The client did not cancel (that would mark the context): something on the server
        # did. Answer instead of leaving the caller waiting for its deadline.
        if not context.cancelled() and not context.done():
            await context.abort(grpc.StatusCode.CANCELLED, "cancelled on the server")
    elif isinstance(exc, NotImplementedError):
        # grpc's generated base servicers raise it for methods nobody implemented
        # (grpc.health.v1.Health/List): not a bug of ours, and open to anyone.
        log.debug("%s is not implemented", method)
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "method not implemented")
    elif isinstance(exc, Exception) and not isinstance(exc, grpc.aio.AbortError):
        log.exception("unexpected error in %s", method)
        await context.abort(grpc.StatusCode.INTERNAL, "internal error (logged on the server)")


# -- request parsing ----------------------------------------------------------------------
class RequestParsingInterceptor(_WrappingInterceptor):
    """A request protobuf cannot parse becomes InvalidArgument naming the field (raised
    where the servicer would have received it), not grpc's bare INTERNAL."""

    def wrap(self, handler: Any, method: str) -> Any:
        if handler.request_deserializer is None:  # raw bytes: nothing to parse
            return handler
        safe = handler._replace(
            request_deserializer=_safe_deserializer(handler.request_deserializer)
        )
        return around(safe, _parsed)


@contextlib.asynccontextmanager
async def _parsed(request: Any, context: Any, streaming: bool) -> AsyncIterator[tuple[Any, Any]]:
    if streaming:
        yield _checked_stream(request), context
    elif isinstance(request, _Malformed):
        raise request.error
    else:
        yield request, context


async def _checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, _Malformed):
            raise request.error
        yield request
