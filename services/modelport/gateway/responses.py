"""Responses of the three APIs: JSON bodies, and each API's error envelope with its HTTP
status. Every endpoint runs inside `guarded`, so no failure leaves without its envelope
(and never as a 200)."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from modelport.gateway.errors import (
    HTTP_STATUS,
    TRITON_STATUS,
    GatewayError,
    oip_error_body,
    openai_error_body,
    typed_error_body,
)
from modelport.gateway.upstream import Caller

log = logging.getLogger(__name__)

Api = Literal["openai", "oip", "typed"]
Endpoint = Callable[[Request], Awaitable[Response]]


class Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def api_of(path: str) -> Api:
    if path.startswith("/v1/") or path == "/v1":
        return "openai"
    if path.startswith("/v2/") or path == "/v2":
        return "oip"
    return "typed"


def error_response(api: Api, error: GatewayError) -> Response:
    if api == "openai":
        return Json(openai_error_body(error), error.status(), error.headers())
    if api == "oip":
        return Json(oip_error_body(error), error.status(TRITON_STATUS), error.headers())
    return Json(typed_error_body(error), error.status(HTTP_STATUS), error.headers())


def scope_error_response(scope: Scope, error: GatewayError) -> Response:
    """The error response for a request that never reached its endpoint (413 ...)."""
    return error_response(api_of(scope["path"]), error)


def caller(request: Request) -> Caller:
    found: Caller = request.state.caller
    return found


def guarded(api: Api, endpoint: Endpoint) -> Endpoint:
    """`endpoint` with every failure answered in `api`'s envelope: a `GatewayError` with
    its status, anything else 500 with a generic message (the traceback is logged)."""

    @functools.wraps(endpoint)
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except GatewayError as exc:
            return error_response(api, exc)
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            internal = GatewayError(
                grpc.StatusCode.INTERNAL, "internal error (logged on the gateway)"
            )
            return error_response(api, internal)

    return run
