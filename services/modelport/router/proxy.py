"""Forward typed calls to a replica as raw bytes.

The router serves EmbeddingService, NlpService and VisionService itself with generic
handlers whose (de)serialisers are the identity: it reads only the `model` field
(field 1, a ModelRef, in every typed request) to route, and never re-encodes payloads.
Deadlines, cancellation and metadata (trace context included) travel with the call.

Metadata is forwarded without the caller's credentials (`authorization` and the other
`strip_headers`): the replica gets the router's own credential instead, the request id
the router logs the call under, and the call's fair-share key (`x-modelport-caller`: the
caller's identity, or its connection), which the replica trusts from the router's
credential only, so it queues each caller's work as that caller's. The route is read as
protobuf reads it (every occurrence of the field, groups stepped over; bytes protobuf
would refuse are INVALID_ARGUMENT), so the replica never parses a model the router did
not route. Every message of a client stream is checked like the first: it must name the
model (and version) its first message named, and the replica the stream went to must
still be a READY replica of that model version (else NOT_FOUND when the model is gone,
UNAVAILABLE when it moved): a stream is never a way to reach a model the router does not
route.

Another replica is tried only while the call has not been sent: a replica whose
connection is not READY within `connect_timeout_s` is skipped. Once a call is sent it is
never retried, whatever its error says (it may have run; a client stream's messages are
consumed): the client gets the replica's status and decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from opentelemetry import trace

from modelport.router.metrics import RouterMetrics
from modelport.router.placement import Placement
from modelport.router.pool import Replica, ReplicaPool
from modelport.router.registry import Registry, ReplicaState
from modelport.router.shadow import Shadows, pin
from modelport.serving.calls import (
    CALLER_HEADER,
    MODEL_HEADER,
    VERSION_HEADER,
    call_record,
    fair_share,
    record_model,
    sees_internals,
)
from modelport.serving.catalog import Task, wrong_rpc
from modelport.serving.errors import (
    DeadlineExceeded,
    InvalidArgument,
    ModelNotReady,
    ModelportError,
    Unavailable,
)
from modelport.serving.server import ServiceBinding
from modelport.serving.tracing import TRACE_HEADERS, inject
from modelport.serving.wire import Malformed, length_delimited, length_delimited_field
from modelport.v1 import common_pb2, embedding_pb2, nlp_pb2, vision_pb2

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]

ROUTED_FILES = (embedding_pb2, nlp_pb2, vision_pb2)

_NOT_FORWARDED = {
    "content-type",
    "te",
    "user-agent",
    "grpc-accept-encoding",
    "grpc-encoding",
    "grpc-timeout",
    "grpc-trace-bin-internal",
    "x-request-id",  # replaced by the id the router logs the call under
    CALLER_HEADER,  # replaced by the router's own key for the call
    MODEL_HEADER,  # the router routes by the body; a replica would trust these from it
    VERSION_HEADER,
}


MAX_LOADS_PER_CALL = 2
"""Loads one call may wait for (a replica that loaded the model and was evicted again
before the call reached it; a load that did not show up in the registry)."""

RouteKey = Callable[[bytes], tuple[str, str]]
TASKS_BY_NAME = {task.value: task for task in Task}


def _occurrences(request: bytes, number: int) -> list[bytes]:
    """Every field `number` of a request, read as protobuf reads it; INVALID_ARGUMENT for
    bytes protobuf would not parse (the replica would refuse them anyway)."""
    try:
        return length_delimited(request, number)
    except Malformed as exc:
        raise InvalidArgument("request", "is not a valid protobuf message") from exc


def oip_route_key(request: bytes) -> tuple[str, str]:
    """(model_name, model_version) of an Open Inference Protocol request (fields 1, 2;
    the last of each, as protobuf takes it)."""
    try:
        name = b"".join(_occurrences(request, 1)[-1:]).decode("utf-8")
        version = b"".join(_occurrences(request, 2)[-1:]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument("model_name", "is not valid UTF-8") from exc
    if not name:
        raise InvalidArgument("model_name", "is required")
    return name, version


def route_key(request: bytes) -> tuple[str, str]:
    """(name, version) of the ModelRef in field 1 of a typed request (all its occurrences
    merged, as protobuf merges them: a second ModelRef cannot change what the replica
    reads without the router seeing it)."""
    try:
        ref = common_pb2.ModelRef.FromString(b"".join(_occurrences(request, 1)))
    except DecodeError as exc:
        raise InvalidArgument("model", "is not a valid ModelRef (name must be UTF-8)") from exc
    if not ref.name:
        raise InvalidArgument("model.name", "is required")
    return ref.name, ref.version


def forwarded_metadata(
    context: Context,
    strip: frozenset[str] = frozenset({"authorization"}),
    credential: tuple[tuple[str, str], ...] = (),
) -> tuple[tuple[str, str | bytes], ...]:
    """The caller's metadata without its credentials (`strip`), with the router's own
    `credential`, the call's request id and fair-share key, and the trace context
    re-pointed at the router's span."""
    kept = tuple(
        (key, value)
        for key, value in (context.invocation_metadata() or ())
        if not key.startswith(":")
        and key not in _NOT_FORWARDED
        and key not in TRACE_HEADERS
        and key not in strip
    )
    record = call_record(context)
    request_id = (("x-request-id", record.request_id),) if record is not None else ()
    share = ((CALLER_HEADER, key),) if (key := fair_share.get()) else ()
    return kept + credential + request_id + share + tuple(inject().items())


class _Requests:
    """The client's stream of requests as the replica gets it: the first message (already
    read to route the call), then the rest, each checked as the first was: it names the
    first's model and version, and the replica the stream was routed to is still a READY
    replica of that model version in the registry (a model deregistered, unloaded or
    moved mid-stream is not reached any more). An error met while reading the client's
    stream (one of those, a spent rate limit) is kept: grpc ends the replica's call as
    CANCELLED when a request iterator raises, and the client must get this error."""

    def __init__(
        self,
        first: bytes,
        rest: AsyncIterator[bytes],
        key: RouteKey,
        route: tuple[str, str],
        registry: Registry,
        reasons: bool,
    ) -> None:
        self._first: bytes | None = first
        self._rest = rest
        self._key = key
        self._route = route
        self._registry = registry
        self._reasons = reasons
        """Whether the caller may see why a model failed to load (see `sees_internals`)."""
        self._replica: tuple[str, str] | None = None
        """(endpoint, version) the stream was routed to."""
        self.error: ModelportError | None = None

    def routed(self, endpoint: str, version: str) -> None:
        """The stream goes to `endpoint`, which serves it as `version`."""
        self._replica = (endpoint, version)

    def __aiter__(self) -> _Requests:
        return self

    async def __anext__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        try:
            request = await anext(self._rest)
            self._check(request)
        except ModelportError as exc:
            self.error = exc
            raise
        return request

    def _check(self, request: bytes) -> None:
        name, version = self._route
        if self._key(request) != self._route:
            raise InvalidArgument(
                "model",
                f"every message of a stream must name the model of its first "
                f"({name!r} version {version!r})",
            )
        if self._replica is None:
            return
        endpoint, served = self._replica
        registration = self._registry.find(name, served, endpoint)
        if registration is None or registration.state is not ReplicaState.READY:
            # NOT_FOUND when the model is gone, UNAVAILABLE when none of it is READY
            self._registry.ready_replicas(name, version, reasons=self._reasons)
            raise Unavailable(
                f"model {name!r} version {served!r} is no longer served where this stream "
                "was routed; open a new stream"
            )


class RoutingProxy:
    """Routes each typed call to a READY replica of the requested model version."""

    def __init__(
        self,
        registry: Registry,
        pool: ReplicaPool,
        metrics: RouterMetrics,
        *,
        strip_headers: frozenset[str] = frozenset({"authorization"}),
        shadows: Shadows | None = None,
        placement: Placement | None = None,
    ) -> None:
        self._registry = registry
        self._pool = pool
        self._metrics = metrics
        self._strip = strip_headers | {"authorization"}
        self._shadows = shadows
        self._placement = placement
        """Loads models on demand and spreads hot ones; None: neither."""

    def _metadata(self, context: Context) -> tuple[tuple[str, str | bytes], ...]:
        return forwarded_metadata(context, self._strip, self._pool.call_metadata)

    def bindings(self) -> list[ServiceBinding]:
        """One binding per routed service, with a raw-bytes handler for each method."""
        bindings = []
        for file in ROUTED_FILES:
            for service in file.DESCRIPTOR.services_by_name.values():
                handlers = {}
                for method in service.methods:
                    path = f"/{service.full_name}/{method.name}"
                    handlers[method.name] = self.handler(method, path, route_key)
                generic = grpc.method_handlers_generic_handler(service.full_name, handlers)
                bindings.append(
                    ServiceBinding(
                        service.full_name,
                        partial(_add_generic, generic),
                    )
                )
        return bindings

    def handler(self, method: Any, path: str, key: RouteKey) -> grpc.RpcMethodHandler:  # type: ignore[type-arg]
        """A raw-bytes forwarding handler for one method of any cardinality."""
        if method.client_streaming and method.server_streaming:
            return grpc.stream_stream_rpc_method_handler(partial(self._stream_stream, path, key))
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(partial(self._unary_stream, path, key))
        if method.client_streaming:
            return grpc.stream_unary_rpc_method_handler(partial(self._stream_unary, path, key))
        return grpc.unary_unary_rpc_method_handler(partial(self._unary_unary, path, key))

    # -- replica choice ---------------------------------------------------------------
    def _route(self, method: str, key: RouteKey, request: bytes) -> tuple[str, str]:
        """(name, version) the call asks for; FAILED_PRECONDITION when the model is
        registered for a task `method` does not serve (it names the right RPC)."""
        name, version = key(request)
        views = [v for v in self._registry.versions(name) if not version or v.version == version]
        tasks = [TASKS_BY_NAME.get(v.task) for v in views]
        wrong = [e for t in tasks if t is not None and (e := wrong_rpc(name, t, method))]
        if views and len(wrong) == len(views):  # no version of it serves this RPC
            raise wrong[0]
        return name, version

    async def _acquire(
        self,
        name: str,
        version: str,
        context: Context,
        tried: set[str],
        requests: _Requests | None = None,
    ) -> tuple[Replica, str]:
        """A replica whose connection is READY, and the version it serves the call as;
        replicas that cannot be reached are skipped (the call was never sent to them, so
        trying another is safe). The only place a call moves to another replica."""
        span = trace.get_current_span()
        loads = 0
        while True:
            try:
                registrations = self._registry.ready_replicas(
                    name, version, reasons=sees_internals(context)
                )
            except ModelNotReady:
                placement = self._placement
                if placement is None or loads >= MAX_LOADS_PER_CALL:
                    raise
                if not placement.can_load(name, version):
                    raise
                loads += 1
                await placement.load_for_call(name, version, context.time_remaining())
                continue
            record_model(context, name, registrations[0].version)
            replica = self._pool.pick(registrations, tried)
            if replica is None:
                raise Unavailable(f"no replica of model {name!r} could be reached")
            if self._placement is not None:
                self._placement.routed(name, version, registrations, replica.endpoint)
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceeded("deadline exceeded before a replica was reached")
            timeout = self._pool.connect_timeout_s
            if remaining is not None:
                timeout = min(timeout, remaining)
            if await self._pool.connect(replica, timeout):
                if requests is not None:
                    requests.routed(replica.endpoint, registrations[0].version)
                span.set_attribute("modelport.replica", replica.endpoint)
                span.set_attribute("modelport.retries", len(tried))
                return replica, registrations[0].version
            self._pool.failed(replica)
            tried.add(replica.endpoint)
            self._metrics.retries.labels(name).inc()

    def _begin(self, replica: Replica) -> None:
        replica.outstanding += 1
        self._metrics.outstanding.labels(replica.endpoint).set(replica.outstanding)

    def _end(self, replica: Replica) -> None:
        replica.outstanding -= 1
        self._metrics.outstanding.labels(replica.endpoint).set(replica.outstanding)

    async def _relay(
        self,
        error: grpc.aio.AioRpcError,
        replica: Replica,
        context: Context,
        requests: _Requests | None = None,
    ) -> None:
        """Answer the client with the backend's status (details and trailers included), or
        with the error met reading the client's stream, which ended the backend's call."""
        if requests is not None and requests.error is not None:
            raise requests.error
        if error.code() == grpc.StatusCode.UNAVAILABLE:
            self._pool.failed(replica)
        await context.abort(
            error.code(),
            error.details() or "",
            tuple(error.trailing_metadata() or ()),  # type: ignore[arg-type]  # aio.Metadata
        )

    async def _unary(
        self,
        name: str,
        version: str,
        context: Context,
        send: Callable[[Replica, str, float | None], Awaitable[bytes]],
        requests: _Requests | None = None,
    ) -> bytes:
        """`send(replica, version, deadline_s)` once a replica is reached."""
        replica, chosen = await self._acquire(name, version, context, set(), requests)
        self._begin(replica)
        try:
            response = await send(replica, chosen, context.time_remaining())
        except grpc.aio.AioRpcError as error:  # sent: never retried
            await self._relay(error, replica, context, requests)
            raise
        except asyncio.CancelledError:
            _raise_reading_error(requests)
            raise
        finally:
            self._end(replica)
        self._pool.succeeded(replica)
        return response

    def _pinned(self, key: RouteKey, name: str, request: bytes, asked: str, chosen: str) -> bytes:
        """The request as sent to a replica: when the caller named no version and a traffic
        split chose one, that version is appended as a further occurrence of the version
        field, which protobuf merges over the first (a replica serving several versions
        would otherwise answer with its own newest, whatever the split says). Only the
        appended bytes are new: the payload is never re-encoded; without a split the
        bytes go as they came."""
        if asked or not chosen or not self._registry.has_split(name):
            return request
        if key is oip_route_key:  # model_version: field 2, a string
            return request + length_delimited_field(2, chosen.encode())
        return pin(request, chosen)

    # -- the four cardinalities ---------------------------------------------------------
    async def _unary_unary(
        self, method: str, key: RouteKey, request: bytes, context: Context
    ) -> bytes:
        name, version = self._route(method, key, request)
        metadata = self._metadata(context)

        async def send(replica: Replica, chosen: str, deadline_s: float | None) -> bytes:
            call = replica.callable("unary_unary", method)
            sent = self._pinned(key, name, request, version, chosen)
            return await call(sent, timeout=deadline_s, metadata=metadata)  # type: ignore[no-any-return]

        response = await self._unary(name, version, context, send)
        if self._shadows is not None:  # after the answer is made; it never waits on the copy
            self._shadows.offer(method, name, version, request, response, metadata)
        return response

    async def _stream_unary(
        self, method: str, key: RouteKey, requests: AsyncIterator[bytes], context: Context
    ) -> bytes:
        first = await anext(requests, None)
        if first is None:
            raise InvalidArgument("requests", "the stream carried no request")
        name, version = self._route(method, key, first)
        metadata = self._metadata(context)
        stream = _Requests(
            first, requests, key, (name, version), self._registry, sees_internals(context)
        )

        async def send(replica: Replica, _: str, deadline_s: float | None) -> bytes:
            call = replica.callable("stream_unary", method)
            return await call(stream, timeout=deadline_s, metadata=metadata)  # type: ignore[no-any-return]

        return await self._unary(name, version, context, send, stream)

    async def _unary_stream(
        self, method: str, key: RouteKey, request: bytes, context: Context
    ) -> AsyncIterator[bytes]:
        name, version = self._route(method, key, request)
        replica, chosen = await self._acquire(name, version, context, set())
        call = replica.callable("unary_stream", method)(
            self._pinned(key, name, request, version, chosen),
            timeout=context.time_remaining(),
            metadata=self._metadata(context),
        )
        async for response in self._relay_stream(call, replica, context):
            yield response

    async def _stream_stream(
        self, method: str, key: RouteKey, requests: AsyncIterator[bytes], context: Context
    ) -> AsyncIterator[bytes]:
        first = await anext(requests, None)
        if first is None:
            return
        name, version = self._route(method, key, first)
        stream = _Requests(
            first, requests, key, (name, version), self._registry, sees_internals(context)
        )
        replica, _ = await self._acquire(name, version, context, set(), stream)
        call = replica.callable("stream_stream", method)(
            stream, timeout=context.time_remaining(), metadata=self._metadata(context)
        )
        async for response in self._relay_stream(call, replica, context, stream):
            yield response

    async def _relay_stream(
        self, call: Any, replica: Replica, context: Context, requests: _Requests | None = None
    ) -> AsyncIterator[bytes]:
        """Forward a response stream message by message; cancel upstream if the client
        goes away."""
        self._begin(replica)
        finished = False
        try:
            async for response in call:
                yield response
            finished = True
            self._pool.succeeded(replica)
        except grpc.aio.AioRpcError as error:
            finished = True
            await self._relay(error, replica, context, requests)
        except asyncio.CancelledError:
            _raise_reading_error(requests)
            raise
        finally:
            self._end(replica)
            if not finished:
                call.cancel()


def _raise_reading_error(requests: _Requests | None) -> None:
    """On a CancelledError from a replica's call: if it is grpc cancelling the call because
    reading the client's stream failed (and not this task being cancelled), raise that
    failure instead, for the client."""
    if requests is None or requests.error is None:
        return
    task = asyncio.current_task()
    if task is None or not task.cancelling():
        raise requests.error


def _add_generic(handler: grpc.GenericRpcHandler, server: grpc.aio.Server) -> None:  # type: ignore[type-arg]
    server.add_generic_rpc_handlers((handler,))
