"""`modelport rollout`: move a model's unpinned traffic to a new version in steps, and
keep going only while the new version measures as well as the one it replaces.

Before the first step, optionally, a shadow phase: the router copies a share of live
calls to the new version and compares the answers (SetShadow). At each step the router's
traffic split gives the new version its share (SetTrafficSplit); then both versions are
scored on the evaluation set (calls pinned to each version), and the new version's live
calls over the step's hold are read from the router's metrics. Gates:

- eval: the new version's metric is at most `max_drop` below the old one's, and its
  evaluation calls failed no more than `max_error_rate`;
- live errors: the new version's share of failed live calls is at most `max_error_rate`;
- live latency: the new version's p90 is at most `max_latency_ratio` times the old one's;
- shadow: the new version agrees with the served answers on at least `min_agreement` of
  the inputs (labels) or its vectors have a mean cosine of at least `min_cosine`.

A live or shadow gate with fewer than `min_calls` calls in its window is not judged (it
says so). The first gate that fails rolls back: the old version gets all the traffic
again, and the reason is said and written to the router's audit log with the split.
When every step held, the new version is promoted (all the traffic).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelport.client import ModelportClient
from modelport.evaluation import live
from modelport.v1 import common_pb2


@dataclass(frozen=True)
class Gates:
    metric: str
    """The evaluation metric compared (accuracy, f1, ndcg_at_10, top1 ...)."""
    max_drop: float = 0.02
    max_error_rate: float = 0.01
    max_latency_ratio: float = 1.5
    min_calls: int = 20
    min_agreement: float = 0.9
    min_cosine: float = 0.99


@dataclass
class Plan:
    model: str
    new: str
    old: str
    steps: list[int]
    """Percent of unpinned traffic for the new version at each step (then 100: promoted)."""
    hold_s: float = 30.0
    shadow: float = 0.0
    """Share of live calls copied to the new version before the first step; 0: no shadow."""
    shadow_only: bool = False
    metrics_url: str | None = None


@dataclass
class Check:
    gate: str
    passed: bool | None
    """None: not judged (too few calls)."""
    detail: str

    def line(self) -> str:
        mark = {True: "ok", False: "FAIL", None: "not judged"}[self.passed]
        return f"{self.gate}: {self.detail} [{mark}]"


@dataclass
class Outcome:
    promoted: bool
    reason: str
    phases: list[dict[str, Any]] = field(default_factory=list)


class RolledBack(Exception):
    """A gate failed (the message says which and why)."""


def resolve_versions(client: ModelportClient, model: str, new: str, old: str) -> tuple[str, str]:
    """(old, new): `old` when given, else the version with the largest traffic weight, else
    the newest READY version other than `new`. ValueError when one is not READY."""
    info = client.get_model(model)
    ready = [v for v in info.versions if v.state == common_pb2.MODEL_STATE_READY]
    names = [v.version for v in ready]
    if new not in names:
        raise ValueError(f"version {new!r} of {model!r} is not READY (READY: {names})")
    if not old:
        others = [v for v in ready if v.version != new]
        weighted = sorted(others, key=lambda v: -v.traffic_weight)
        if not others:
            raise ValueError(f"{model!r} has no other READY version to roll out from")
        old = weighted[0].version if weighted[0].traffic_weight else others[0].version
    elif old not in names:
        raise ValueError(f"version {old!r} of {model!r} is not READY (READY: {names})")
    if old == new:
        raise ValueError("--from and --to name the same version")
    return old, new


class Rollout:
    def __init__(
        self,
        client: ModelportClient,
        plan: Plan,
        gates: Gates,
        evaluate: Callable[[str], dict[str, Any]],
        say: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.plan = plan
        self.gates = gates
        self.evaluate = evaluate
        self.say = say
        self.sleep = sleep
        self._baseline: dict[str, Any] | None = None

    # -- the run ---------------------------------------------------------------------
    def run(self) -> Outcome:
        plan = self.plan
        phases: list[dict[str, Any]] = []
        try:
            self._baseline = self.evaluate(plan.old)
            self.say(f"v{plan.old} (serving): {self._figures(self._baseline)}")
            if plan.shadow:
                phases.append(self._phase("shadow", self._shadow_checks()))
            if not plan.shadow_only:
                for i, percent in enumerate(plan.steps, start=1):
                    weights = {plan.old: 100 - percent, plan.new: percent}
                    reason = (
                        f"rollout of {plan.model} v{plan.old} -> v{plan.new}: step "
                        f"{i}/{len(plan.steps)}, {percent}% to v{plan.new}"
                    )
                    self.client.set_traffic_split(plan.model, weights, reason)
                    self.say(f"step {i}/{len(plan.steps)}: {percent}% of traffic to v{plan.new}")
                    phases.append(self._phase(f"step {i} ({percent}%)", self._step_checks()))
        except RolledBack as exc:
            self._roll_back(str(exc))
            return Outcome(False, str(exc), phases)
        except BaseException:  # interrupted, or the router stopped answering
            self._roll_back("the rollout was interrupted")
            raise
        if plan.shadow_only:  # the shadow phase stopped its shadow
            return Outcome(False, "shadow only: every gate held", phases)
        reason = f"promote {plan.model} v{plan.new}: every gate held at every step"
        self.client.set_traffic_split(plan.model, {plan.new: 100}, reason)
        self.say(f"promoted v{plan.new}: it takes all unpinned traffic")
        return Outcome(True, reason, phases)

    def _phase(self, name: str, checks: list[Check]) -> dict[str, Any]:
        for check in checks:
            self.say(f"  {check.line()}")
        failed = [c for c in checks if c.passed is False]
        record = {
            "phase": name,
            "checks": [{"gate": c.gate, "passed": c.passed, "detail": c.detail} for c in checks],
        }
        if failed:
            raise RolledBack(f"{name}: {failed[0].gate}: {failed[0].detail}")
        return record

    def _roll_back(self, why: str) -> None:
        plan = self.plan
        reason = f"rollback of {plan.model} v{plan.new}: {why}"
        if plan.shadow:
            self.client.set_shadow(plan.model, "", 0.0, reason)
        if not plan.shadow_only:
            self.client.set_traffic_split(plan.model, {plan.old: 100}, reason)
        self.say(f"rolled back: v{plan.old} takes all unpinned traffic again ({why})")

    # -- measuring -------------------------------------------------------------------
    def _figures(self, report: dict[str, Any]) -> str:
        m = report["metrics"]
        return f"{self.gates.metric} {m[self.gates.metric]:.4f} on {report['dataset']['evaluated']}"

    def _eval_checks(self) -> list[Check]:
        assert self._baseline is not None
        g = self.gates
        report = self.evaluate(self.plan.new)
        old = float(self._baseline["metrics"][g.metric])
        new = float(report["metrics"][g.metric])
        failed = 1 - float(report["metrics"]["success_rate"])
        return [
            Check(
                f"eval {g.metric}",
                new >= old - g.max_drop,
                f"v{self.plan.new} {new:.4f} vs v{self.plan.old} {old:.4f} "
                f"(may drop {g.max_drop:g})",
            ),
            Check(
                "eval errors",
                failed <= g.max_error_rate,
                f"{failed:.2%} of v{self.plan.new}'s evaluation inputs failed "
                f"(at most {g.max_error_rate:.2%})",
            ),
        ]

    def _hold(self) -> dict[str, live.VersionCalls] | None:
        """Wait the step's hold; the router's live figures over it (None without a
        metrics URL)."""
        url = self.plan.metrics_url
        before = live.scrape(url, self.plan.model) if url else None
        self.sleep(self.plan.hold_s)
        if url is None or before is None:
            return None
        return live.window(before, live.scrape(url, self.plan.model))

    def _step_checks(self) -> list[Check]:
        checks = self._eval_checks()
        window = self._hold()
        if window is None:
            return [*checks, Check("live", None, "no --metrics-url: live figures not read")]
        g, plan = self.gates, self.plan
        new = window.get(plan.new, live.VersionCalls())
        old = window.get(plan.old, live.VersionCalls())
        enough_new = new.calls >= g.min_calls
        checks.append(
            Check(
                "live errors",
                new.error_rate <= g.max_error_rate if enough_new else None,
                f"v{plan.new} failed {new.errors:.0f} of {new.calls:.0f} live calls "
                f"({new.error_rate:.2%}; at most {g.max_error_rate:.2%}, judged from "
                f"{g.min_calls} calls)",
            )
        )
        p90_new, p90_old = new.quantile(0.9), old.quantile(0.9)
        judged = enough_new and old.calls >= g.min_calls and not math.isnan(p90_old)
        checks.append(
            Check(
                "live latency",
                p90_new <= g.max_latency_ratio * p90_old if judged else None,
                f"p90 v{plan.new} {p90_new * 1000:.1f} ms vs v{plan.old} {p90_old * 1000:.1f} "
                f"ms (at most {g.max_latency_ratio:g}x; {new.calls:.0f} and {old.calls:.0f} "
                "calls)",
            )
        )
        return checks

    def _shadow_checks(self) -> list[Check]:
        g, plan = self.gates, self.plan
        reason = f"rollout of {plan.model} v{plan.old} -> v{plan.new}: shadow phase"
        self.client.set_shadow(plan.model, plan.new, plan.shadow, reason)
        self.say(f"shadow: {plan.shadow:.0%} of live calls copied to v{plan.new}")
        self.sleep(plan.hold_s)
        s = self.client.get_shadow(plan.model)
        self.client.set_shadow(plan.model, "", 0.0, f"{reason} done")
        failed = s.errors / s.mirrored if s.mirrored else 0.0
        checks = [
            Check(
                "shadow errors",
                failed <= g.max_error_rate if s.mirrored >= g.min_calls else None,
                f"{s.errors} of {s.mirrored} copies failed, {s.dropped} dropped",
            )
        ]
        if s.vectors:
            checks.append(
                Check(
                    "shadow cosine",
                    s.mean_cosine >= g.min_cosine if s.vectors >= g.min_calls else None,
                    f"mean {s.mean_cosine:.4f} over {s.vectors} vectors (at least "
                    f"{g.min_cosine:g})",
                )
            )
        else:
            agreement = s.agreed / s.compared if s.compared else 0.0
            checks.append(
                Check(
                    "shadow agreement",
                    agreement >= g.min_agreement if s.compared >= g.min_calls else None,
                    f"{s.agreed} of {s.compared} inputs agreed ({agreement:.2%}; at least "
                    f"{g.min_agreement:.0%})",
                )
            )
        return checks
