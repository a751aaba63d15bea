"""OpenTelemetry tracing and structured logs for every process.

Each process has its own TracerProvider (no global state): spans are exported over OTLP
when `otlp_endpoint` is set, and dropped otherwise. W3C trace context arrives in the
call metadata and leaves with forwarded calls. Logs can be JSON lines carrying the trace
id and the request id of the call they were written in.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()
TRACE_HEADERS = ("traceparent", "tracestate")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
"""What a caller's `x-request-id` may look like to be kept (UUIDs, ULIDs, AWS-style ids);
anything else is replaced by a made-up id."""
TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
"""The id of the call being served (from `x-request-id` metadata, or made up)."""


def make_tracer(
    service: str, otlp_endpoint: str | None
) -> tuple[trace.Tracer | None, TracerProvider | None]:
    """A tracer exporting to `otlp_endpoint`, or (None, None) when there is none: then
    calls only carry the caller's trace context along (no spans, no cost)."""
    if not otlp_endpoint:
        return None, None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True))
    )
    return provider.get_tracer("modelport"), provider


def extract(metadata: Iterable[tuple[str, str | bytes]] | None) -> otel_context.Context:
    """The caller's trace context from gRPC metadata."""
    carrier = {k: v for k, v in (metadata or ()) if k in TRACE_HEADERS and isinstance(v, str)}
    return PROPAGATOR.extract(carrier)


def inject() -> dict[str, str]:
    """Headers that carry the current span to the next hop."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier


def new_request_id(metadata: Mapping[str, Any]) -> str:
    """The caller's `x-request-id` when it is a plausible id (`REQUEST_ID`), else a new one:
    a log line never carries what a caller chose beyond 128 plain characters."""
    given = metadata.get("x-request-id")
    if isinstance(given, str) and REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def trace_id(traceparent: object) -> str:
    """The trace id of a W3C `traceparent` header, or "" when it is not one (wrong shape,
    version ff, all-zero ids): nothing else a caller sends reaches the audit log."""
    if not isinstance(traceparent, str):
        return ""
    match = TRACEPARENT.fullmatch(traceparent)
    if match is None or match[1] == "ff" or not int(match[2], 16) or not int(match[3], 16):
        return ""
    return match[2]


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message, trace and request id."""

    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": format(span.trace_id, "032x") if span.is_valid else "",
            "span_id": format(span.span_id, "016x") if span.is_valid else "",
            "request_id": request_id.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)
