"""Metrics of an inference process: the shared request metrics plus the schedulers'."""

from __future__ import annotations

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from modelport.inference.stats import RequestStats
from modelport.serving.metrics import LATENCY_BUCKETS, LOAD_BUCKETS, Metrics

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
SELF_COUNTED = frozenset({"/inference.GRPCInferenceService/ModelStreamInfer"})
"""Streams whose servicer counts each message as a request (`RequestStats`)."""


class InferenceMetrics(Metrics):
    """Queueing, batching and decoding of every model in the process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.requests = RequestStats()
        """How each model version's requests ended (Triton's ModelStatistics)."""
        r = self.registry
        self.queue_duration = Histogram(
            "modelport_queue_duration_seconds",
            "Time an input waited in the model's batch queue (a generation: for a decoding slot).",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.compute_duration = Histogram(
            "modelport_compute_duration_seconds",
            "Time one batch (or one decoding step) spent in the model.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "modelport_batch_size",
            "Inputs per model batch (sequences per decoding step).",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "modelport_queue_depth",
            "Work waiting for the model: inputs in its batch queue, or generations waiting "
            "for a decoding slot.",
            ["model"],
            registry=r,
        )
        self.rejected = Counter(
            "modelport_rejected_total",
            "Inputs or generations refused because the model's queue was full.",
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

        self.capacity_bytes = Gauge(
            "modelport_memory_capacity_bytes",
            "Memory budget of this replica per device (absent: no budget).",
            ["device"],
            registry=r,
        )
        self.used_bytes = Gauge(
            "modelport_memory_used_bytes",
            "Memory the loaded (and loading) models take per device: measured, or estimated "
            "until loaded.",
            ["device"],
            registry=r,
        )
        self.model_size_bytes = Gauge(
            "modelport_model_size_bytes",
            "Memory each loaded model version takes (measured after its load).",
            ["model", "version"],
            registry=r,
        )
        self.model_loads = Counter(
            "modelport_model_loads_total",
            "Model loads by outcome: loaded, failed, refused (no room in the budget).",
            ["model", "outcome"],
            registry=r,
        )
        self.model_load_duration = Histogram(
            "modelport_model_load_duration_seconds",
            "Time from a load's turn (its estimate, evictions, weights, warm-up) to READY; "
            "waiting for the turn is not counted.",
            ["model"],
            buckets=LOAD_BUCKETS,
            registry=r,
        )
        self.evictions = Counter(
            "modelport_model_evictions_total",
            "Models unloaded to make room for another.",
            ["model"],
            registry=r,
        )
        self.age_at_eviction = Histogram(
            "modelport_model_idle_at_eviction_seconds",
            "How long an evicted model had not been used.",
            buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
            registry=r,
        )

    def observe_call(
        self, method: str, model: str, version: str, code: grpc.StatusCode, seconds: float
    ) -> None:
        super().observe_call(method, model, version, code, seconds)
        if model and method not in SELF_COUNTED:
            self.requests.ended(model, version, code is grpc.StatusCode.OK, seconds)
