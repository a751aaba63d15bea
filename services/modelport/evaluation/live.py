"""Live figures of one model's versions from the router's Prometheus `/metrics`: calls,
failures and latency quantiles over a window (the difference of two scrapes)."""

from __future__ import annotations

import math
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

FAMILY = "modelport_request_duration_seconds"
CALLER_FAULTS = frozenset(
    {
        "OK",
        "CANCELLED",
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "FAILED_PRECONDITION",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "OUT_OF_RANGE",
    }
)
"""Statuses that are no fault of the serving version (OK, or the caller's): everything
else (INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED ...) is an error."""


@dataclass
class VersionCalls:
    """The calls one version answered: counts by status, latency buckets (cumulative
    counts by upper bound, seconds)."""

    by_code: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def calls(self) -> float:
        return sum(self.by_code.values())

    @property
    def errors(self) -> float:
        return sum(n for code, n in self.by_code.items() if code not in CALLER_FAULTS)

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    def quantile(self, q: float) -> float:
        """Prometheus' `histogram_quantile`: linear within the bucket the rank falls in;
        seconds (NaN without calls)."""
        bounds = sorted(self.buckets)
        total = self.buckets.get(math.inf, 0.0)
        if not total:
            return math.nan
        rank = q * total
        low, below = 0.0, 0.0
        for bound in bounds:
            count = self.buckets[bound]
            if count >= rank:
                if math.isinf(bound):
                    return low
                inside = count - below
                return low + (bound - low) * ((rank - below) / inside if inside else 1.0)
            low, below = bound, count
        return low

    def minus(self, before: VersionCalls) -> VersionCalls:
        out = VersionCalls()
        for code, n in self.by_code.items():
            out.by_code[code] = n - before.by_code.get(code, 0.0)
        for bound, n in self.buckets.items():
            out.buckets[bound] = n - before.buckets.get(bound, 0.0)
        return out


def parse(text: str, model: str) -> dict[str, VersionCalls]:
    """Each version of `model` with the calls the router's metrics count for it."""
    out: dict[str, VersionCalls] = defaultdict(VersionCalls)
    for family in text_string_to_metric_families(text):
        if family.name != FAMILY:
            continue
        for sample in family.samples:
            labels = sample.labels
            if labels.get("model") != model or not labels.get("version"):
                continue
            calls = out[labels["version"]]
            if sample.name == FAMILY + "_count":
                calls.by_code[labels.get("code", "")] += sample.value
            elif sample.name == FAMILY + "_bucket":
                calls.buckets[float(labels["le"])] += sample.value
    return dict(out)


def scrape(url: str, model: str, timeout_s: float = 10.0) -> dict[str, VersionCalls]:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return parse(response.read().decode("utf-8"), model)


def window(
    before: dict[str, VersionCalls], after: dict[str, VersionCalls]
) -> dict[str, VersionCalls]:
    """What each version answered between two scrapes."""
    return {v: calls.minus(before.get(v, VersionCalls())) for v, calls in after.items()}
