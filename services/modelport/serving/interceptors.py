"""The one server interceptor that turns errors into gRPC statuses.

- A request that protobuf cannot parse becomes INVALID_ARGUMENT naming the field when
  it can be found (invalid UTF-8 in a string), instead of grpc's bare INTERNAL.
- A `ModelportError` becomes its status, with `google.rpc` details in the trailers.
- Anything else becomes INTERNAL with a generic message; the traceback is logged.
- Every call's duration is observed by method, model and status code.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeAlias

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry import context as otel_context
from opentelemetry import trace

from modelport.serving.errors import InvalidArgument, ModelportError, ResourceExhausted
from modelport.serving.metrics import Metrics
from modelport.serving.tracing import extract, new_request_id, request_id
from modelport.serving.wire import find_invalid_utf8

log = logging.getLogger(__name__)

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"

call_model: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "call_model", default=("", "")
)
"""(model, version) a call is for; set by handlers once they resolve it, read for metrics."""


def mark_call(model: str, version: str) -> None:
    """Label this call's metrics with the model version that serves it."""
    call_model.set((model, version))


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
    if isinstance(error, ResourceExhausted):
        if error.violations:
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


class ErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Maps errors to statuses, records request metrics and opens the server span (with
    the caller's W3C trace context) of every RPC."""

    def __init__(self, metrics: Metrics, tracer: trace.Tracer | None = None) -> None:
        self._metrics = metrics
        self._tracer = tracer

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        wrapped: Handler = _wrap(
            handler,
            handler_call_details.method,
            self._metrics,
            _Call(self._tracer, handler_call_details),
        )
        return wrapped


class _Call:
    """Opens the server span and sets the request id of one call."""

    def __init__(self, tracer: trace.Tracer | None, details: grpc.HandlerCallDetails) -> None:
        self.tracer = tracer
        self.method = details.method
        self.metadata = tuple(details.invocation_metadata or ())

    @contextlib.contextmanager
    def scope(self) -> Iterator[trace.Span]:
        request_id.set(new_request_id(dict(self.metadata)))
        caller = extract(self.metadata)
        if self.tracer is None:  # not exporting: carry the caller's context along only
            with _attached(caller):
                yield trace.get_current_span()
            return
        span = self.tracer.start_span(
            self.method,
            context=caller,
            kind=trace.SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.method": self.method},
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


def _wrap(handler: Any, method: str, metrics: Metrics, call: _Call) -> Any:
    changes: dict[str, Any] = {}
    if handler.request_deserializer is not None:
        changes["request_deserializer"] = _safe_deserializer(handler.request_deserializer)
    if handler.unary_unary is not None:
        changes["unary_unary"] = _unary_response(handler.unary_unary, metrics, call, False)
    elif handler.stream_unary is not None:
        changes["stream_unary"] = _unary_response(handler.stream_unary, metrics, call, True)
    elif handler.unary_stream is not None:
        changes["unary_stream"] = _stream_response(handler.unary_stream, metrics, call, False)
    elif handler.stream_stream is not None:
        changes["stream_stream"] = _stream_response(handler.stream_stream, metrics, call, True)
    return handler._replace(**changes)


async def _checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, _Malformed):
            raise request.error
        yield request


def _first_request(request: Any, streaming: bool) -> Any:
    if streaming:
        return _checked_stream(request)
    if isinstance(request, _Malformed):
        raise request.error
    return request


@contextlib.asynccontextmanager
async def _served(
    scope: _Call, context: grpc.aio.ServicerContext[Any, Any], metrics: Metrics
) -> AsyncIterator[None]:
    """Around one call: its server span, its status for any error, its duration metric."""
    start = time.perf_counter()
    code = grpc.StatusCode.OK
    with scope.scope() as span:
        try:
            yield
        except BaseException as exc:
            code = _status_code(exc, context)
            await _abort(exc, context, scope.method)
            raise
        finally:
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            _observe(metrics, scope.method, code, start)


def _unary_response(behavior: Any, metrics: Metrics, scope: _Call, streaming: bool) -> Any:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async with _served(scope, context, metrics):
            return await behavior(_first_request(request, streaming), context)

    return call


def _stream_response(behavior: Any, metrics: Metrics, scope: _Call, streaming: bool) -> Any:
    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        async with _served(scope, context, metrics):
            result = behavior(_first_request(request, streaming), context)
            if inspect.isasyncgen(result):
                async for response in result:
                    yield response
            else:
                await result

    return call


def _status_code(
    exc: BaseException, context: grpc.aio.ServicerContext[Any, Any]
) -> grpc.StatusCode:
    if isinstance(exc, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    if isinstance(exc, grpc.aio.AbortError):
        return context.code() or grpc.StatusCode.UNKNOWN
    if isinstance(exc, ModelportError):
        return exc.code
    return grpc.StatusCode.INTERNAL


async def _abort(
    exc: BaseException, context: grpc.aio.ServicerContext[Any, Any], method: str
) -> None:
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
    elif isinstance(exc, Exception) and not isinstance(exc, grpc.aio.AbortError):
        log.exception("unexpected error in %s", method)
        await context.abort(grpc.StatusCode.INTERNAL, "internal error (logged on the server)")


def _observe(metrics: Metrics, method: str, code: grpc.StatusCode, start: float) -> None:
    model, version = call_model.get()
    metrics.request_duration.labels(method, model, version, code.name).observe(
        time.perf_counter() - start
    )
