"""Router metrics: the shared request metrics plus per-replica load and health."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from modelport.serving.metrics import LOAD_BUCKETS, Metrics


class RouterMetrics(Metrics):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.outstanding = Gauge(
            "modelport_router_outstanding_calls",
            "Calls in flight to each replica.",
            ["endpoint"],
            registry=r,
        )
        self.ejections = Counter(
            "modelport_router_ejections_total",
            "Times a replica was ejected after consecutive transport failures.",
            ["endpoint"],
            registry=r,
        )
        self.retries = Counter(
            "modelport_router_retries_total",
            "Calls sent to another replica because the first could not be reached.",
            ["model"],
            registry=r,
        )
        self.cache_misses = Counter(
            "modelport_router_cache_misses_total",
            "Calls that found no replica with their model loaded (and waited for a load).",
            ["model"],
            registry=r,
        )
        self.cache_miss_duration = Histogram(
            "modelport_router_cache_miss_seconds",
            "How long a call that missed waited for its model to load.",
            ["model"],
            buckets=LOAD_BUCKETS,
            registry=r,
        )
        self.model_loads = Counter(
            "modelport_router_model_loads_total",
            "Loads the router asked a replica for, by outcome (OK or the gRPC status).",
            ["model", "outcome"],
            registry=r,
        )
        self.load_duration = Histogram(
            "modelport_router_model_load_seconds",
            "Time a replica took to load a model the router asked it to load.",
            ["model"],
            buckets=LOAD_BUCKETS,
            registry=r,
        )
        self.spreads = Counter(
            "modelport_router_hot_spreads_total",
            "Times a hot model was loaded on one more replica.",
            ["model"],
            registry=r,
        )
