"""Prometheus metrics of one process, on a registry of its own (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (
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
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """Every metric a Modelport process exports. Names and labels are listed in the README."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.request_duration = Histogram(
            "modelport_request_duration_seconds",
            "Time from receiving a call to answering it.",
            ["method", "model", "version", "code"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_duration = Histogram(
            "modelport_queue_duration_seconds",
            "Time an input waited in the model's batch queue.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.compute_duration = Histogram(
            "modelport_compute_duration_seconds",
            "Time one batch spent in the model.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "modelport_batch_size",
            "Inputs per model batch.",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "modelport_queue_depth",
            "Inputs waiting in the model's batch queue.",
            ["model"],
            registry=r,
        )
        self.rejected = Counter(
            "modelport_rejected_total",
            "Inputs refused because the model's queue was full.",
            ["model"],
            registry=r,
        )
        self.generation_steps = Counter(
            "modelport_generation_steps_total",
            "Batched decoding steps (one forward pass serves every running sequence).",
            ["model"],
            registry=r,
        )
        self.generation_running = Gauge(
            "modelport_generation_running",
            "Sequences in the running decoding batch.",
            ["model"],
            registry=r,
        )
        self.generation_waiting = Gauge(
            "modelport_generation_waiting",
            "Generations waiting for a decoding slot.",
            ["model"],
            registry=r,
        )
        self.generated_tokens = Counter(
            "modelport_generated_tokens_total",
            "Tokens generated.",
            ["model"],
            registry=r,
        )
        self.model_state = Gauge(
            "modelport_model_state",
            "1 for the state each model version is in.",
            ["model", "version", "state"],
            registry=r,
        )

    def serve_http(self, host: str, port: int) -> tuple[object, object]:
        """Expose `/metrics` over HTTP; returns the server and its thread."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        return server, thread
