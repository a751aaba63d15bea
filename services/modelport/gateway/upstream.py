"""The router, as the gateway calls it: one `grpc.aio` channel (made inside the running
loop, in the app's lifespan), calls carrying the HTTP caller's credentials, request id
and trace context, every call with a deadline, and failures as `GatewayError`.

The caller's `Authorization` header is forwarded untouched: the router authenticates it,
checks its role, charges its identity's rate limit and writes the audit line, exactly as
for a gRPC client. The gateway holds no credential of its own, so it can never let a
request through that the router would refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from starlette.types import Receive

from modelport.gateway.errors import GatewayError, from_rpc_error
from modelport.gateway.settings import GatewaySettings
from modelport.serving.tracing import inject

M = TypeVar("M", bound=Message)

CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
)


@dataclass(frozen=True)
class Caller:
    """What travels from the HTTP request to the router with each call."""

    authorization: str | None
    request_id: str
    receive: Receive | None = None
    """The HTTP request's ASGI `receive`: after the body, it says when the client left."""

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Credentials, request id, and the current trace context (re-pointed at the
        gateway's span when it exports spans)."""
        headers = [("x-request-id", self.request_id), *inject().items()]
        if self.authorization:
            headers.append(("authorization", self.authorization))
        return tuple(headers)


@contextlib.contextmanager
def rpc_errors() -> Iterator[None]:
    """The one place a `grpc.aio.AioRpcError` becomes a `GatewayError`."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc) from exc


class Router:
    """Calls on the router by method path with serialised messages; one channel."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._channel: grpc.aio.Channel | None = None
        self.timeout_s = settings.timeout_s

    async def open(self) -> None:
        """Make the channel; call it in the running loop that serves requests."""
        s = self._settings
        options = list(CHANNEL_OPTIONS)
        if s.router_tls_ca_file is not None:
            if s.router_tls_server_name:
                options.append(("grpc.ssl_target_name_override", s.router_tls_server_name))
            credentials = grpc.ssl_channel_credentials(s.router_tls_ca_file.read_bytes())
            self._channel = grpc.aio.secure_channel(s.router_address, credentials, options)
        else:
            self._channel = grpc.aio.insecure_channel(s.router_address, options)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = None

    @property
    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            raise RuntimeError("the router channel is opened in the app's lifespan")
        return self._channel

    async def unary(self, path: str, request: Message, response_type: type[M], caller: Caller) -> M:
        """One unary call; the router's error as `GatewayError`."""
        method = self.channel.unary_unary(
            path,
            request_serializer=_serialize,
            response_deserializer=response_type.FromString,
        )
        with rpc_errors():
            response: M = await method(request, timeout=self.timeout_s, metadata=caller.metadata())
        return response

    def server_stream(
        self, path: str, request: Message, response_type: type[M], caller: Caller
    ) -> grpc.aio.UnaryStreamCall[Message, M]:
        """A server-streaming call, started; read it with `responses`."""
        method = self.channel.unary_stream(
            path,
            request_serializer=_serialize,
            response_deserializer=response_type.FromString,
        )
        call: grpc.aio.UnaryStreamCall[Message, M] = method(
            request, timeout=self.timeout_s, metadata=caller.metadata()
        )
        return call

    def stream_stream(
        self,
        path: str,
        requests: list[Message],
        response_type: type[M],
        caller: Caller,
    ) -> grpc.aio.StreamStreamCall[Message, M]:
        """A bidirectional call fed with `requests`, started."""
        method = self.channel.stream_stream(
            path,
            request_serializer=_serialize,
            response_deserializer=response_type.FromString,
        )
        call: grpc.aio.StreamStreamCall[Message, M] = method(
            iter(requests), timeout=self.timeout_s, metadata=caller.metadata()
        )
        return call


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


async def responses(call: Any) -> AsyncGenerator[Any, None]:
    """The messages of a streaming call; errors as `GatewayError`; the call is cancelled
    when the reader stops early (the HTTP client went away), which frees the model's
    decoding slot at its next step."""
    try:
        with rpc_errors():
            async for message in call:
                yield message
    finally:
        call.cancel()


async def first_and_rest(call: Any, caller: Caller) -> tuple[Any | None, AsyncIterator[Any]]:
    """The first message of a streaming call (None when it ended without one), awaited
    before any HTTP status is sent, so an error the router answers at once (unknown
    model, bad argument, rate limit) is a real 4xx/5xx and not a 200 stream that fails;
    and the iterator of the whole stream, first message included.

    Through the caller's `receive` (its body already read), an HTTP client that goes away
    while the first message is awaited (a generation queued behind others) cancels the
    call there and then, as it would once the stream had started."""
    stream = responses(call)
    first_message = asyncio.ensure_future(anext(stream))
    receive = caller.receive
    watch = asyncio.ensure_future(_disconnect(receive)) if receive is not None else None
    try:
        await asyncio.wait(
            {first_message, *([watch] if watch else [])}, return_when=asyncio.FIRST_COMPLETED
        )
        if not first_message.done():
            first_message.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, GatewayError):
                await first_message
            raise GatewayError(grpc.StatusCode.CANCELLED, "the HTTP client went away")
        first = first_message.result()
    except StopAsyncIteration:
        return None, _empty()
    except BaseException:
        if not first_message.done():
            first_message.cancel()
        await stream.aclose()
        raise
    finally:
        if watch is not None:
            watch.cancel()

    async def chained() -> AsyncGenerator[Any, None]:
        try:
            yield first
            async for message in stream:
                yield message
        finally:
            await stream.aclose()

    return first, chained()


async def _disconnect(receive: Receive) -> None:
    """Returns when the HTTP client disconnects (the body has been read: nothing else
    arrives)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _empty() -> AsyncIterator[Any]:
    return
    yield  # pragma: no cover
