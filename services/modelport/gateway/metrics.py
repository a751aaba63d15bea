"""The gateway's Prometheus metrics, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from modelport.serving.metrics import LATENCY_BUCKETS, Metrics


class GatewayMetrics(Metrics):
    """Requests, their durations (to the end of the body, streams included) and the
    requests in flight, by route template (`/v2/models/{model}/infer`, never the raw path)
    and HTTP status."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        r = self.registry
        self.requests = Counter(
            "modelport_gateway_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "modelport_gateway_request_duration_seconds",
            "Time from a request's arrival to the end of its response body.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "modelport_gateway_requests_in_flight",
            "Requests being answered (open streams included), by route.",
            ["route"],
            registry=r,
        )
