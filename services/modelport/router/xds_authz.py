"""Envoy's ext_authz check, answered by the router: callers authenticate through Envoy
exactly as they do at the router.

With caller authentication on, Envoy asks `Authorization/Check` before each call it
sends straight to a replica, with the caller's headers and the request's bytes. The
router decides as its interceptor would (`AuthInterceptor.authorize`: the token, the
role, the identity's rate limit charged per input) and, when it allows the call, tells
Envoy the call's fair-share key (`x-modelport-caller: id:<identity>`), which the replica
trusts because Envoy presents the router's credential. The caller's `authorization` is
removed by the route before the call leaves Envoy: it never reaches a replica.
"""

from __future__ import annotations

from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import status_pb2

from modelport.serving.auth import AuthInterceptor
from modelport.serving.calls import CALLER_HEADER, MAX_KEY_CHARS
from modelport.serving.errors import ModelportError
from modelport.serving.server import ServiceBinding
from modelport.serving.tracing import trace_id

AUTHZ_SERVICE = external_auth_pb2.DESCRIPTOR.services_by_name["Authorization"].full_name
HTTP_STATUS = {
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
}


def _set(key: str, value: str) -> Any:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=key, value=value),
        append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
    )


class DataPlaneAuthorization(external_auth_pb2_grpc.AuthorizationServicer):  # type: ignore[misc]
    def __init__(self, auth: AuthInterceptor) -> None:
        self._auth = auth

    def binding(self) -> ServiceBinding:
        return ServiceBinding(
            AUTHZ_SERVICE,
            lambda server: external_auth_pb2_grpc.add_AuthorizationServicer_to_server(self, server),
        )

    async def Check(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        http = request.attributes.request.http
        headers = dict(http.headers)
        source = request.attributes.source.address.socket_address.address
        body = http.raw_body or (http.body.encode() if http.body else None)
        if body is not None and len(body) >= 5:
            body = body[5:]  # the gRPC frame's flag and length
        try:
            principal = self._auth.authorize(
                headers.get("authorization"),
                http.path,
                body,
                f"peer:{source or '?'}",
                trace_id(headers.get("traceparent")),
            )
        except ModelportError as exc:
            code = exc.code
            return external_auth_pb2.CheckResponse(
                status=status_pb2.Status(code=code.value[0], message=exc.message),
                denied_response=external_auth_pb2.DeniedHttpResponse(
                    status=http_status_pb2.HttpStatus(code=HTTP_STATUS.get(code, 403)),
                    headers=[
                        _set("grpc-status", str(code.value[0])),
                        _set("grpc-message", exc.message),
                    ],
                ),
            )
        key = f"id:{principal.identity}"[:MAX_KEY_CHARS]
        return external_auth_pb2.CheckResponse(
            status=status_pb2.Status(code=0),
            ok_response=external_auth_pb2.OkHttpResponse(headers=[_set(CALLER_HEADER, key)]),
        )
