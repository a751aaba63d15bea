"""The gateway's one ASGI middleware (pure ASGI: Starlette's `BaseHTTPMiddleware` would
buffer streams and hide disconnects). Per request, outermost first:

- the request id: the caller's `x-request-id` when plausible, else a new one; sent back;
- W3C trace context: the caller's `traceparent` continued (a SERVER span of the gateway's
  when it exports spans; a new trace when the caller sent none), sent back and forwarded
  to the router;
- the body size limit: a `Content-Length` above it is answered 413 at once, a chunked
  body that grows past it fails the read with 413;
- metrics by route template and status, in-flight gauge;
- audit: requests the router refused (401, 403, 429) with the client's address.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelport.gateway.errors import GatewayError
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.upstream import Caller
from modelport.serving.auth import AuditLog
from modelport.serving.tracing import PROPAGATOR, new_request_id, request_id

log = logging.getLogger(__name__)

DENIALS = {401: "unauthenticated", 403: "permission_denied", 429: "rate_limited"}

ErrorWriter = Callable[[Scope, GatewayError], Any]
"""The ASGI response for an error of a request (in the envelope of its API)."""


def traceparent(span_context: trace.SpanContext) -> str:
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-"
        f"{int(span_context.trace_flags):02x}"
    )


class GatewayMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: list[BaseRoute],
        metrics: GatewayMetrics,
        error_response: ErrorWriter,
        max_body_bytes: int,
        tracer: trace.Tracer | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.app = app
        self._routes = routes
        self._metrics = metrics
        self._error_response = error_response
        self._max_body = max_body_bytes
        self._tracer = tracer
        self._audit = audit

    def _route(self, scope: Scope) -> str:
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", "other"))
        return "other"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        rid = new_request_id(headers)
        request_id.set(rid)
        route = self._route(scope)
        method = scope["method"]
        carrier = {k: headers[k] for k in ("traceparent", "tracestate") if k in headers}
        parent = PROPAGATOR.extract(carrier)
        span: trace.Span | None = None
        if self._tracer is not None:
            span = self._tracer.start_span(
                f"{method} {route}",
                context=parent,
                kind=trace.SpanKind.SERVER,
                attributes={"http.request.method": method, "http.route": route},
            )
            current = trace.set_span_in_context(span, parent)
        elif trace.get_current_span(parent).get_span_context().is_valid:
            current = parent
        else:  # no caller context and no exporter: a new trace the logs can still join
            new = trace.SpanContext(
                int.from_bytes(secrets.token_bytes(16)) or 1,
                int.from_bytes(secrets.token_bytes(8)) or 1,
                is_remote=False,
            )
            current = trace.set_span_in_context(trace.NonRecordingSpan(new), parent)
        outgoing = traceparent(trace.get_current_span(current).get_span_context())
        status = 500
        started = time.perf_counter()
        in_flight = self._metrics.in_flight.labels(route)
        in_flight.inc()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", rid.encode()),
                    (b"traceparent", outgoing.encode()),
                ]
            await send(message)

        received = 0

        async def receiving() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_body:
                    raise _too_large(self._max_body)
            return message

        scope.setdefault("state", {})["caller"] = Caller(
            headers.get("authorization"), rid, receiving
        )
        token = otel_context.attach(current)
        try:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self._max_body:
                response = self._error_response(scope, _too_large(self._max_body))
                await response(scope, receive, sending)
            else:
                await self.app(scope, receiving, sending)
        finally:
            otel_context.detach(token)
            in_flight.dec()
            code = str(status)
            self._metrics.requests.labels(route, method, code).inc()
            self._metrics.duration.labels(route, method, code).observe(
                time.perf_counter() - started
            )
            if span is not None:
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR))
                span.end()
            if status in DENIALS and self._audit is not None:
                client = scope.get("client") or ("-", 0)
                self._audit.denied(
                    f"peer:{client[0]}",
                    kind="denied",
                    who="-",
                    what=f"{method} {route}",
                    outcome=DENIALS[status],
                    trace_id=outgoing.split("-")[1],
                    request_id=rid,
                )


def _too_large(limit: int) -> GatewayError:
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"the request body is larger than {limit} bytes (the gateway's max_body_bytes)",
        http_status=413,
    )
