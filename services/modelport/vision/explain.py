"""Explanations of image classifications: what a model is asked and what it answers, and
the heat map drawn from a saliency map. No protobuf here."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from modelport.inference.explaining import Baseline, Method

Scores = list[tuple[str, float]]

DEFAULT_WINDOW = 32
"""Occlusion window (pixels of the model's input) when a request leaves it at 0."""
HEAT_STOPS = np.array(
    [[0, 0, 0], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float32
)
"""Colours of the heat map from no attribution to the most (inferno's stops)."""
HEAT_OPACITY = 0.6
"""How much of the heat map covers the image where attribution is highest."""


@dataclass(frozen=True)
class Placement:
    """Where a model's input lies in the image: the image was resized to `width` x
    `height` and the input cut from it at (`left`, `top`)."""

    width: int
    height: int
    left: int
    top: int


@dataclass(frozen=True)
class ImageQuestion:
    """One image to explain, with the method and its parameters settled."""

    pixels: np.ndarray
    """The model's input `[3, h, w]`."""
    baseline_pixels: np.ndarray
    """The baseline as a model input `[3, h, w]`."""
    width: int
    """The image's own size (after EXIF rotation)."""
    height: int
    target: str
    method: Method
    steps: int
    baseline: Baseline
    window: int
    stride: int
    batch: int


@dataclass(frozen=True)
class ImageExplanation:
    prediction: Scores
    target: str
    target_score: float
    method: Method
    saliency: np.ndarray
    """float32 `[height, width]` of the image."""
    delta: float | None
    steps: int
    baseline: Baseline
    window: int
    stride: int
    passes: int


def heatmap_png(image: Image.Image, saliency: np.ndarray) -> bytes:
    """The positive attributions as a heat map over `image`, PNG-encoded: each pixel's
    attribution over the 99th percentile of the positive ones picks a colour, blended
    over the image in proportion."""
    positive = np.clip(saliency, 0, None)
    top = float(np.percentile(positive[positive > 0], 99)) if (positive > 0).any() else 1.0
    level = np.clip(positive / (top or 1.0), 0, 1)
    position = level * (len(HEAT_STOPS) - 1)
    low = np.floor(position).astype(int).clip(0, len(HEAT_STOPS) - 2)
    fraction = (position - low)[..., None]
    colours = HEAT_STOPS[low] * (1 - fraction) + HEAT_STOPS[low + 1] * fraction
    alpha = (HEAT_OPACITY * level)[..., None]
    base = np.asarray(image.convert("RGB"), np.float32)
    blended = (base * (1 - alpha) + colours * alpha).round().clip(0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(blended).save(out, "PNG")
    return out.getvalue()
