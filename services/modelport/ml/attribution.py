"""Attribution methods as pieces of work (`modelport.inference.explaining.Work`): each
yields after a batch of forward passes, so the caller can run them at a lower priority
than inference and stop them between batches.

- `integrated_gradients`: Sundararajan et al. (2017), the midpoint Riemann sum of the
  gradients along the straight path from a baseline to the input, computed with torch
  autograd in batches of interpolation points (what Captum's `internal_batch_size`
  does); returns the convergence delta, `sum(attributions) - (F(x) - F(baseline))`, as
  Captum's `return_convergence_delta` does.
- `occlusion`: the drop of the target score when each perturbation replaces the input
  (Captum's `Occlusion` / `FeatureAblation`), evaluated in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

P = TypeVar("P")

Score = Callable[[torch.Tensor], torch.Tensor]
"""A batch of inputs `[n, ...]` → the target's score of each `[n]` (differentiable)."""


@dataclass(frozen=True)
class Gradients:
    """What integrated gradients found."""

    attributions: torch.Tensor
    """Same shape as the input."""
    delta: float
    """sum(attributions) - (F(input) - F(baseline))."""
    passes: int
    """Forward passes (each gradient step counts one)."""


def integrated_gradients(
    score: Score, x: torch.Tensor, baseline: torch.Tensor, steps: int, batch: int
) -> Generator[None, None, Gradients]:
    """Integrated gradients of `score` at `x` (one input, no batch axis) from `baseline`,
    with `steps` points, `batch` of them per piece of work."""
    x = x.detach().float()
    baseline = baseline.detach().float()
    difference = x - baseline
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    shape = (-1,) + (1,) * x.dim()
    total = torch.zeros_like(x)
    for chunk in torch.split(alphas, batch):
        with torch.enable_grad():
            points = (baseline + chunk.view(shape) * difference).requires_grad_(True)
            (grads,) = torch.autograd.grad(score(points).sum(), points)
        total += grads.sum(0)
        yield
    attributions = difference * total / steps
    with torch.no_grad():
        ends = score(torch.stack([x, baseline])).float()
    delta = float(attributions.sum() - (ends[0] - ends[1]))
    return Gradients(attributions, delta, steps + 2)


def occlusion(
    scores: Callable[[Sequence[P]], torch.Tensor],
    perturbations: Sequence[P],
    batch: int,
) -> Generator[None, None, torch.Tensor]:
    """The target's score for each perturbed input `[len(perturbations)]`, `batch` per
    piece of work (the caller subtracts them from the unperturbed score)."""
    out = []
    for start in range(0, len(perturbations), batch):
        with torch.inference_mode():
            out.append(scores(perturbations[start : start + batch]).float().cpu())
        yield
    return torch.cat(out) if out else torch.zeros(0)


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Start of each window along an axis of `size`: every `stride`, plus one flush with
    the end so every position is covered."""
    starts = list(range(0, size - window + 1, stride))
    if starts[-1] != size - window:
        starts.append(size - window)
    return starts
