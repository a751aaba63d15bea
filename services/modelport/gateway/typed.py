"""Typed REST for `modelport.v1`: every RPC of every service at `POST /<package>.<Service>/
<Method>` (the gRPC method path), generated from the service descriptors, not written
per method.

Bodies and answers use the proto3 JSON mapping (`google.protobuf.json_format`: field
names in lowerCamelCase or as in the .proto, 64-bit integers and bytes as strings, enums
by name). A server-streaming RPC answers with server-sent events, one `data:` event per
message; a client-streaming one takes a JSON array of request messages. Errors are
`{"error": {"code": <HTTP status>, "message", "status": <gRPC code name>, "details"}}`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.gateway.body import parse_json
from modelport.gateway.errors import GatewayError, bad_request, typed_error_body
from modelport.gateway.responses import Json, caller, guarded
from modelport.gateway.sse import EventStream, event
from modelport.gateway.upstream import Router, first_and_rest
from modelport.v1 import embedding_pb2, nlp_pb2, registry_pb2, vision_pb2

FILES: tuple[FileDescriptor, ...] = (
    embedding_pb2.DESCRIPTOR,
    nlp_pb2.DESCRIPTOR,
    vision_pb2.DESCRIPTOR,
    registry_pb2.DESCRIPTOR,
)


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def from_json(doc: Any, message_type: type[Message], where: str = "body") -> Message:
    """`doc` parsed into `message_type`; 400 with json_format's words (they name the
    field) for anything that does not fit."""
    if not isinstance(doc, dict):
        raise bad_request(where, f"must be a JSON object ({message_type.DESCRIPTOR.full_name})")
    try:
        return json_format.ParseDict(doc, message_type())
    except json_format.ParseError as exc:
        raise bad_request(where, str(exc)) from exc


def method_route(router: Router, method: MethodDescriptor, heartbeat_s: float) -> Route:
    path = f"/{method.containing_service.full_name}/{method.name}"
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)

    async def sse(messages: AsyncIterator[Message]) -> AsyncIterator[bytes]:
        try:
            async for message in messages:
                yield event(to_json(message))
        except GatewayError as exc:
            yield event(typed_error_body(exc))

    async def call(request: Request) -> Response:
        raw = await request.body()
        doc = parse_json(raw) if raw.strip() else {}
        who = caller(request)
        started: Any
        if method.client_streaming:
            docs = doc if isinstance(doc, list) else [doc]
            messages = [from_json(d, request_type, f"body[{i}]") for i, d in enumerate(docs)]
            started = router.stream_stream(path, messages, response_type, who)
        else:
            message = from_json(doc, request_type)
            if not method.server_streaming:
                return Json(to_json(await router.unary(path, message, response_type, who)))
            started = router.server_stream(path, message, response_type, who)
        _, stream = await first_and_rest(started, who)
        return EventStream(sse(stream), heartbeat_s)

    return Route(path, guarded("typed", call), methods=["POST"])


def routes(router: Router, heartbeat_s: float) -> list[Route]:
    return [
        method_route(router, method, heartbeat_s)
        for file in FILES
        for service in file.services_by_name.values()
        for method in service.methods
    ]
