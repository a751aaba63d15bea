"""What runs a loaded model's work: one scheduler per model, with its own worker thread.

A model declares its scheduler (`Model.scheduler`): batched runtimes get a
`DynamicBatcher` (`batching.py`), generative runtimes a `DecodeLoop` (`decoding.py`).
The repository builds it after the model loads, starts it, warms the model up through
it, and closes it when the model unloads. Every scheduler admits work the same way
(`refuse_if_full`) and reports the work waiting for the model as `modelport_queue_depth`,
the gauge the chart's KEDA trigger scales on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from modelport.inference.metrics import InferenceMetrics
from modelport.inference.stats import ModelStats
from modelport.serving.errors import ResourceExhausted

In_contra = TypeVar("In_contra", contravariant=True)


class Scheduler(Protocol[In_contra]):
    """The scheduler of one model."""

    stats: ModelStats
    """Executions, inputs, queue and compute time (Triton's ModelStatistics)."""

    @property
    def queue_depth(self) -> int:
        """Work waiting for the model: queued inputs, or generations waiting for a
        decoding slot."""
        ...

    def start(self) -> None:
        """Start scheduling; call from inside the running event loop."""
        ...

    def admit(self, count: int) -> None:
        """Refuse at once with RESOURCE_EXHAUSTED if `count` more would overflow the
        queue. Handlers call it before preparing inputs; submitting checks again."""
        ...

    async def warm_up(self, items: Sequence[In_contra]) -> None:
        """Run `items` (the model's `warmup_batch`) to completion."""
        ...

    async def close(self) -> None:
        """Stop; waiting and running work fails with UNAVAILABLE; the worker is released."""
        ...


def refuse_if_full(
    name: str,
    metrics: InferenceMetrics,
    *,
    waiting: int,
    count: int,
    limit: int,
    unit: str,
    retry_after_s: float,
) -> None:
    """The admission rule of every scheduler: `count` more must fit under `limit`, else
    RESOURCE_EXHAUSTED naming the model (`QuotaFailure` subject) with a retry delay, and
    the refused count in `modelport_rejected_total`."""
    if waiting + count > limit:
        metrics.rejected.labels(name).inc(count)
        raise ResourceExhausted(
            f"model {name!r} is overloaded: queue full ({waiting}/{limit} {unit} waiting)",
            subject=f"model:{name}",
            retry_after_s=retry_after_s,
        )
