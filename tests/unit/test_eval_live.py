"""`modelport rollout`'s live figures: the router's histogram read as Prometheus reads it."""

from __future__ import annotations

import math

import pytest

from modelport.evaluation import live

FAMILY = "modelport_request_duration_seconds"


def series(model: str, code: str, buckets: dict[str, int]) -> list[str]:
    """One call series of version 1 of `model`: cumulative buckets by bound, and count."""
    labels = f'method="/m/Classify",model="{model}",version="1",code="{code}"'
    lines = [f'{FAMILY}_bucket{{{labels},le="{le}"}} {n}' for le, n in buckets.items()]
    count = buckets.get("+Inf", 0)
    return [*lines, f"{FAMILY}_count{{{labels}}} {count}", f"{FAMILY}_sum{{{labels}}} 1.0"]


def scrape(a: int, b: int, c: int, e: int) -> dict[str, live.VersionCalls]:
    """`a` OK calls within 0.1 s, `b` within 0.5 s, `c` in all; `e` INTERNAL calls within
    0.5 s and `e` NOT_FOUND; other models' calls beside them."""
    lines = [
        f"# TYPE {FAMILY} histogram",
        *series("m", "OK", {"0.1": a, "0.5": b, "+Inf": c}),
        *series("m", "INTERNAL", {"0.1": 0, "0.5": e, "+Inf": e}),
        *series("m", "NOT_FOUND", {"0.1": e, "0.5": e, "+Inf": e}),
        *series("other", "OK", {"0.1": 99, "0.5": 99, "+Inf": 99}),
    ]
    return live.parse("\n".join(lines) + "\n", "m")


def test_a_window_counts_errors_that_are_no_callers_fault() -> None:
    window = live.window(scrape(10, 10, 10, 0), scrape(50, 90, 100, 5))["1"]
    assert window.calls == 90 + 5 + 5  # OK, INTERNAL, NOT_FOUND
    assert window.errors == 5  # NOT_FOUND is the caller's
    assert window.error_rate == pytest.approx(0.05)


def test_quantiles_interpolate_within_the_bucket_as_prometheus_does() -> None:
    calls = scrape(40, 100, 100, 0)["1"]
    # 40 calls under 0.1 s, 60 between 0.1 and 0.5 s: the median is 10 calls into the
    # second bucket, 0.1 + 0.4 * 10/60
    assert calls.quantile(0.5) == pytest.approx(0.1 + 0.4 * 10 / 60)
    assert calls.quantile(0.2) == pytest.approx(0.1 * 20 / 40)
    # ranks in the +Inf bucket answer its lower bound
    assert scrape(0, 0, 10, 0)["1"].quantile(0.9) == 0.5
    assert math.isnan(live.VersionCalls().quantile(0.5))
