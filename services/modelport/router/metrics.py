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
        self.xds_version = Gauge(
            "modelport_router_xds_version",
            "Version of the xDS resources the control plane serves (bumped on each change).",
            registry=r,
        )
        self.xds_streams = Gauge(
            "modelport_router_xds_streams",
            "Open ADS streams (Envoys and proxyless gRPC clients).",
            registry=r,
        )
        self.xds_pushes = Counter(
            "modelport_router_xds_pushes_total",
            "xDS responses sent, by resource type.",
            ["type"],
            registry=r,
        )
        self.xds_nacks = Counter(
            "modelport_router_xds_nacks_total",
            "xDS responses a client rejected (NACK), by resource type.",
            ["type"],
            registry=r,
        )
        self.shadow_calls = Counter(
            "modelport_router_shadow_calls_total",
            "Shadow copies of calls by outcome: compared, error, dropped (too many in flight).",
            ["model", "version", "outcome"],
            registry=r,
        )
        self.shadow_answers = Counter(
            "modelport_router_shadow_answers_total",
            "Inputs of shadow copies whose label (or entity set) agreed with the answer the "
            "caller got, or disagreed.",
            ["model", "version", "outcome"],
            registry=r,
        )
        self.shadow_cosine = Histogram(
            "modelport_router_shadow_cosine",
            "Cosine similarity of each shadow vector to the vector the caller got.",
            ["model", "version"],
            buckets=(0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0),
            registry=r,
        )
