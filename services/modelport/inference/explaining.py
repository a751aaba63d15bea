"""What every service's `Explain` shares: the methods, the explanation queue with its
limits, and the runner that computes an explanation at a lower priority than inference.

An explanation is a generator the model writes (`Work`): it runs on the model's worker
thread and yields between pieces of work (a batch of integrated-gradients steps, a batch
of occluded inputs). `run_work` hands each piece to the model's batcher as background
work (`DynamicBatcher.run_idle`): a piece starts only while no inference input waits, so
an inference call waits for at most the one piece running when it arrives. Between
pieces the call's cancellation (a client that went away, a deadline that passed) ends
the explanation. `ExplainQueue` bounds how many explanations compute and wait per
process. Torch-free; no protobuf.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Generator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from modelport.serving.errors import InvalidArgument, ResourceExhausted

if TYPE_CHECKING:  # settings import this module; batching imports settings
    from modelport.inference.batching import DynamicBatcher
    from modelport.inference.metrics import InferenceMetrics

T = TypeVar("T")

Work = Generator[None, None, T]
"""An explanation in pieces: each `next()` computes one piece (on the model's worker
thread); the generator's return value is the explanation."""

EXPLAIN_RETRY_AFTER_S = 1.0
"""RetryInfo hint of an explanation refused because the explanation queue was full."""


class Method(enum.Enum):
    """How an explanation attributes a prediction (`modelport.v1.ExplainMethod`)."""

    INTEGRATED_GRADIENTS = "integrated-gradients"
    OCCLUSION = "occlusion"


class Baseline(enum.Enum):
    """The reference input (`modelport.v1.Baseline`)."""

    PAD = "pad"
    ZERO = "zero"
    BLACK = "black"


@dataclass(frozen=True)
class ExplainLimits:
    """The `explain_*` settings of a process."""

    max_running: int
    max_waiting: int
    default_steps: int
    max_steps: int
    batch_size: int
    max_passes: int

    def steps(self, asked: int) -> int:
        """The integrated-gradients steps of a request (0: the default)."""
        if asked > self.max_steps:
            raise InvalidArgument("steps", f"is {asked}; at most {self.max_steps}")
        return asked or self.default_steps


def target_index(labels: Sequence[str], target: str, scores: Sequence[float]) -> int:
    """The label a request explains: `target`, or the best-scoring one when empty;
    INVALID_ARGUMENT naming `target_label` for a label the model does not have."""
    if not target:
        return max(range(len(labels)), key=lambda i: scores[i])
    if target not in labels:
        shown = ", ".join(map(repr, labels[:20])) + (" ..." if len(labels) > 20 else "")
        raise InvalidArgument("target_label", f"is {target!r}; the model's labels are {shown}")
    return list(labels).index(target)


class ExplainQueue:
    """At most `max_running` explanations compute at once in the process and
    `max_waiting` more wait; beyond that an explanation is RESOURCE_EXHAUSTED at once.
    Inference has its own queues: a full explanation queue never refuses inference."""

    def __init__(self, limits: ExplainLimits, metrics: InferenceMetrics) -> None:
        self.limits = limits
        self._metrics = metrics
        self._admitted = 0
        self._slots: asyncio.Semaphore | None = None

    def admit(self, model: str) -> None:
        """Refuse at once with RESOURCE_EXHAUSTED if the queue is full. Handlers call it
        before decoding or tokenising, so shedding costs nothing; `slot` checks again."""
        capacity = self.limits.max_running + self.limits.max_waiting
        if self._admitted >= capacity:
            self._metrics.rejected.labels(model).inc()
            raise ResourceExhausted(
                f"explanations are overloaded: {self._admitted} computing or waiting "
                f"(explain_max_running {self.limits.max_running} + explain_max_waiting "
                f"{self.limits.max_waiting}); inference calls are still served",
                subject="explain",
                retry_after_s=EXPLAIN_RETRY_AFTER_S,
            )

    @asynccontextmanager
    async def slot(self, model: str) -> AsyncIterator[None]:
        """Hold one of the running slots for an explanation of `model` (waiting for one
        if needed), or refuse at once when the queue is full."""
        self.admit(model)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.max_running)
        self._admitted += 1
        try:
            async with self._slots:
                yield
        finally:
            self._admitted -= 1


def _piece(work: Work[Any]) -> tuple[bool, Any]:
    """One piece of `work`: (finished, its result)."""
    try:
        next(work)
    except StopIteration as stop:  # cannot cross a Future: returned as a value
        return True, stop.value
    return False, None


async def run_work(batcher: DynamicBatcher[Any, Any], work: Work[T]) -> T:
    """Compute `work` piece by piece on the model's worker thread, each piece only while
    no inference input waits. Cancelling the caller (cancellation, a deadline) stops it
    before the next piece."""
    while True:
        finished, value = await batcher.run_idle(lambda: _piece(work))
        if finished:
            result: T = value
            return result
