"""Per-model counters behind Triton's ModelStatistics (every protocol counts): what the
scheduler ran (`ModelStats`, kept by each model's scheduler) and how the requests for the
model ended (`RequestStats`, kept by the process's metrics)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Duration:
    count: int = 0
    ns: int = 0

    def add(self, seconds: float, count: int = 1) -> None:
        self.count += count
        self.ns += int(seconds * 1e9)


@dataclass
class ModelStats:
    last_inference_ms: int = 0
    inference_count: int = 0
    """Inputs computed (each batch element counts)."""
    execution_count: int = 0
    """Model executions (batches)."""
    success: Duration = field(default_factory=Duration)
    fail: Duration = field(default_factory=Duration)
    queue: Duration = field(default_factory=Duration)
    compute_infer: Duration = field(default_factory=Duration)
    batches: dict[int, Duration] = field(default_factory=dict)

    def executed(self, size: int, queue_s: float, compute_s: float) -> None:
        self.execution_count += 1
        self.inference_count += size
        self.last_inference_ms = int(time.time() * 1000)
        self.queue.add(queue_s, size)
        self.compute_infer.add(compute_s)
        self.batches.setdefault(size, Duration()).add(compute_s)


class RequestStats:
    """How the inference requests of each model version ended, whatever the protocol
    (typed RPCs and the Open Inference Protocol): Triton's `success` and `fail`, each a
    count and the requests' cumulative time from arrival to answer. A request is one
    unary call, one server-streaming call (all its responses), or one message of a
    ModelStreamInfer stream (counted by the OIP servicer); an EmbedStream counts once.
    Requests that never reach a model (unknown, refused before) are nobody's."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], ModelStats] = {}

    def ended(self, model: str, version: str, ok: bool, seconds: float) -> None:
        stats = self._models.setdefault((model, version), ModelStats())
        (stats.success if ok else stats.fail).add(seconds)

    def of(self, model: str, version: str) -> ModelStats:
        """The counts of one model version (zero if it never served a request)."""
        return self._models.get((model, version)) or ModelStats()
