"""Per-model counters behind Triton's ModelStatistics (every protocol counts)."""

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
