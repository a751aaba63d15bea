"""Errors at the HTTP edge: every failure is a `GatewayError` carrying the gRPC status it
is (the router's own, or one the gateway decided, INVALID_ARGUMENT for bad JSON say),
mapped to an HTTP status in one place (`HTTP_STATUS`) and written in the envelope of the
API the request came in by (`modelport.gateway.app`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
"""gRPC status → HTTP status (google.rpc's HTTP mapping, as grpc-gateway uses it)."""

TRITON_STATUS = {
    **HTTP_STATUS,
    grpc.StatusCode.UNKNOWN: 400,
    grpc.StatusCode.ALREADY_EXISTS: 400,
    grpc.StatusCode.CANCELLED: 400,
}
"""The Open Inference Protocol routes answer with Triton's codes (`HttpCodeFromError`)."""

OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    499: "cancelled",
    501: "not_supported_error",
    503: "unavailable_error",
    504: "timeout_error",
}
"""The OpenAI envelope's `type` by HTTP status (llama.cpp's and vLLM's names)."""


@dataclass
class GatewayError(Exception):
    """A request that fails with `code`; `param` names the bad field (OpenAI's `param`,
    BadRequest's field violation), `retry_after_s` comes from the router's RetryInfo."""

    code: grpc.StatusCode
    message: str
    param: str | None = None
    retry_after_s: float | None = None
    http_status: int | None = None
    """Overrides the status `code` maps to (413 for a body too large, say)."""

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"

    def status(self, table: dict[grpc.StatusCode, int] = HTTP_STATUS) -> int:
        return self.http_status or table.get(self.code, 500)

    def headers(self) -> dict[str, str]:
        """`Retry-After` (whole seconds, rounded up) when the router said when to retry;
        1 s for an overload that did not say (a full queue), so a 429 always has one."""
        delay = self.retry_after_s
        if delay is None and self.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            delay = 1.0
        if delay is None:
            return {}
        return {"retry-after": str(max(1, math.ceil(delay)))}


def bad_request(param: str, description: str) -> GatewayError:
    """INVALID_ARGUMENT naming the field, as the router words its own (`field: ...`)."""
    return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"{param}: {description}", param)


def from_rpc_error(error: grpc.aio.AioRpcError) -> GatewayError:
    """The router's status with what its `google.rpc` details say: the first field
    violation (`param`) and the retry delay."""
    code = error.code()
    message = error.details() or code.name.lower()
    param = None
    retry = None
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            if bad.field_violations:
                param = bad.field_violations[0].field
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            retry = info.retry_delay.ToNanoseconds() / 1e9
    if code == grpc.StatusCode.UNAVAILABLE and status is None:
        message = f"the router cannot be reached ({message})"
    return GatewayError(code, message, param, retry)


def openai_error_body(error: GatewayError) -> dict[str, Any]:
    """OpenAI's envelope: `{"error": {"message", "type", "param", "code"}}`."""
    status = error.status()
    fallback = "server_error" if status >= 500 else "invalid_request_error"
    return {
        "error": {
            "message": error.message,
            "type": OPENAI_TYPE.get(status, fallback),
            "param": error.param,
            "code": error.code.name.lower(),
        }
    }


def oip_error_body(error: GatewayError) -> dict[str, Any]:
    """The Open Inference Protocol's `{"error": "<message>"}`."""
    return {"error": error.message}


def typed_error_body(error: GatewayError) -> dict[str, Any]:
    """google.rpc.Status as JSON (AIP-193): HTTP code, message, status name, and the
    bad field when there is one."""
    body: dict[str, Any] = {
        "code": error.status(),
        "message": error.message,
        "status": error.code.name,
    }
    if error.param:
        body["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": error.param, "description": error.message}],
            }
        ]
    return {"error": body}
