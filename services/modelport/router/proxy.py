"""Forward typed calls to a replica as raw bytes.

The router serves EmbeddingService, NlpService and VisionService itself with generic
handlers whose (de)serialisers are the identity: it reads only the `model` field
(field 1, a ModelRef, in every typed request) to route, and never re-encodes payloads.
Deadlines, cancellation and metadata (trace context included) travel with the call.

Another replica is tried only while the call has not been sent: a replica whose
connection is not READY within `connect_timeout_s` is skipped. Once a call is sent it is
never retried, whatever its error says (it may have run; a client stream's messages are
consumed): the client gets the replica's status and decides.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from opentelemetry import trace

from modelport.router.metrics import RouterMetrics
from modelport.router.pool import Replica, ReplicaPool
from modelport.router.registry import Registry
from modelport.serving.calls import record_model
from modelport.serving.catalog import Task, wrong_rpc
from modelport.serving.errors import DeadlineExceeded, InvalidArgument, Unavailable
from modelport.serving.server import ServiceBinding
from modelport.serving.tracing import TRACE_HEADERS, inject
from modelport.serving.wire import last_length_delimited
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
}


RouteKey = Callable[[bytes], tuple[str, str]]
TASKS_BY_NAME = {task.value: task for task in Task}


def oip_route_key(request: bytes) -> tuple[str, str]:
    """(model_name, model_version) of an Open Inference Protocol request (fields 1, 2)."""
    try:
        name = (last_length_delimited(request, 1) or b"").decode("utf-8")
        version = (last_length_delimited(request, 2) or b"").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument("model_name", "is not valid UTF-8") from exc
    if not name:
        raise InvalidArgument("model_name", "is required")
    return name, version


def route_key(request: bytes) -> tuple[str, str]:
    """(name, version) of the ModelRef in field 1 of a typed request."""
    raw = last_length_delimited(request, 1)
    try:
        ref = common_pb2.ModelRef.FromString(raw or b"")
    except DecodeError as exc:
        raise InvalidArgument("model", "is not a valid ModelRef (name must be UTF-8)") from exc
    if not ref.name:
        raise InvalidArgument("model.name", "is required")
    return ref.name, ref.version


def forwarded_metadata(context: Context) -> tuple[tuple[str, str | bytes], ...]:
    """The caller's metadata, with the trace context re-pointed at the router's span."""
    kept = tuple(
        (key, value)
        for key, value in (context.invocation_metadata() or ())
        if not key.startswith(":") and key not in _NOT_FORWARDED and key not in TRACE_HEADERS
    )
    return kept + tuple(inject().items())


class RoutingProxy:
    """Routes each typed call to a READY replica of the requested model version."""

    def __init__(self, registry: Registry, pool: ReplicaPool, metrics: RouterMetrics) -> None:
        self._registry = registry
        self._pool = pool
        self._metrics = metrics

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

    async def _acquire(self, name: str, version: str, context: Context, tried: set[str]) -> Replica:
        """A replica whose connection is READY; replicas that cannot be reached are
        skipped (the call was never sent to them, so trying another is safe). The only
        place a call moves to another replica."""
        span = trace.get_current_span()
        while True:
            registrations = self._registry.ready_replicas(name, version)
            record_model(context, name, registrations[0].version)
            replica = self._pool.pick(registrations, tried)
            if replica is None:
                raise Unavailable(f"no replica of model {name!r} could be reached")
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise DeadlineExceeded("deadline exceeded before a replica was reached")
            timeout = self._pool.connect_timeout_s
            if remaining is not None:
                timeout = min(timeout, remaining)
            if await self._pool.connect(replica, timeout):
                span.set_attribute("modelport.replica", replica.endpoint)
                span.set_attribute("modelport.retries", len(tried))
                return replica
            self._pool.failed(replica)
            tried.add(replica.endpoint)
            self._metrics.retries.labels(name).inc()

    def _begin(self, replica: Replica) -> None:
        replica.outstanding += 1
        self._metrics.outstanding.labels(replica.endpoint).set(replica.outstanding)

    def _end(self, replica: Replica) -> None:
        replica.outstanding -= 1
        self._metrics.outstanding.labels(replica.endpoint).set(replica.outstanding)

    async def _relay(self, error: grpc.aio.AioRpcError, replica: Replica, context: Context) -> None:
        """Answer the client with the backend's status (details and trailers included)."""
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
        send: Callable[[Replica, float | None], Awaitable[bytes]],  # (replica, deadline_s)
    ) -> bytes:
        replica = await self._acquire(name, version, context, set())
        self._begin(replica)
        try:
            response = await send(replica, context.time_remaining())
        except grpc.aio.AioRpcError as error:  # sent: never retried
            await self._relay(error, replica, context)
            raise
        finally:
            self._end(replica)
        self._pool.succeeded(replica)
        return response

    # -- the four cardinalities ---------------------------------------------------------
    async def _unary_unary(
        self, method: str, key: RouteKey, request: bytes, context: Context
    ) -> bytes:
        name, version = self._route(method, key, request)
        metadata = forwarded_metadata(context)

        async def send(replica: Replica, deadline_s: float | None) -> bytes:
            call = replica.callable("unary_unary", method)
            return await call(request, timeout=deadline_s, metadata=metadata)  # type: ignore[no-any-return]

        return await self._unary(name, version, context, send)

    async def _stream_unary(
        self, method: str, key: RouteKey, requests: AsyncIterator[bytes], context: Context
    ) -> bytes:
        first = await anext(requests, None)
        if first is None:
            raise InvalidArgument("requests", "the stream carried no request")
        name, version = self._route(method, key, first)
        metadata = forwarded_metadata(context)

        async def send(replica: Replica, deadline_s: float | None) -> bytes:
            call = replica.callable("stream_unary", method)
            return await call(  # type: ignore[no-any-return]
                _prepend(first, requests), timeout=deadline_s, metadata=metadata
            )

        return await self._unary(name, version, context, send)

    async def _unary_stream(
        self, method: str, key: RouteKey, request: bytes, context: Context
    ) -> AsyncIterator[bytes]:
        name, version = self._route(method, key, request)
        replica = await self._acquire(name, version, context, set())
        call = replica.callable("unary_stream", method)(
            request, timeout=context.time_remaining(), metadata=forwarded_metadata(context)
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
        replica = await self._acquire(name, version, context, set())
        call = replica.callable("stream_stream", method)(
            _prepend(first, requests),
            timeout=context.time_remaining(),
            metadata=forwarded_metadata(context),
        )
        async for response in self._relay_stream(call, replica, context):
            yield response

    async def _relay_stream(
        self, call: Any, replica: Replica, context: Context
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
            await self._relay(error, replica, context)
        finally:
            self._end(replica)
            if not finished:
                call.cancel()


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for item in rest:
        yield item


def _add_generic(handler: grpc.GenericRpcHandler, server: grpc.aio.Server) -> None:  # type: ignore[type-arg]
    server.add_generic_rpc_handlers((handler,))
