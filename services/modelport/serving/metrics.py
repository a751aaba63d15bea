"""Prometheus metrics of one process, on a registry of its own (no global state)."""

from __future__ import annotations

import grpc
from prometheus_client import CollectorRegistry, Histogram, start_http_server

LOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
"""Histogram buckets of model loads and of calls waiting for one (seconds)."""
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class Metrics:
    """The metrics every Modelport process exports (per-process registry). Names and labels
    are listed in the README; services add their own families in subclasses."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.request_duration = Histogram(
            "modelport_request_duration_seconds",
            "Time from receiving a call to answering it.",
            ["method", "model", "version", "code"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def observe_call(
        self, method: str, model: str, version: str, code: grpc.StatusCode, seconds: float
    ) -> None:
        """One call ended (the observability interceptor tells every call): `model` and
        `version` are those that answered it, empty when none did."""
        self.request_duration.labels(method, model, version, code.name).observe(seconds)

    def serve_http(self, host: str, port: int) -> tuple[object, object]:
        """Expose `/metrics` over HTTP; returns the server and its thread."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        return server, thread
