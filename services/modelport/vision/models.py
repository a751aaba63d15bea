"""Vision runtimes.

- `torch-image-classification`: a plain torch module built by `options.factory`
  ("module:function"), labels from `options.labels` (a list, or "module:function"), and
  the preprocessing recipe in `options.preprocess` (see `settings.PreprocessOptions`).
- `hf-image-classification`: AutoImageProcessor + AutoModelForImageClassification.
- `hf-object-detection`: AutoImageProcessor + AutoModelForObjectDetection; boxes in pixel
  coordinates of the original image (after EXIF rotation).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from transformers import (
    AutoImageProcessor,
    AutoModelForImageClassification,
    AutoModelForObjectDetection,
)

from modelport.inference.model import BatchedModel, ModelMetadata, TensorSpec
from modelport.ml.device import select_device
from modelport.ml.engines import Engine, EngineChoice, Forward, Graph, load_engine
from modelport.ml.hf import weight_files
from modelport.serving.catalog import Task
from modelport.serving.errors import ConfigError, ModelportError

from .images import Recipe
from .settings import TorchImageClassificationOptions

Scores = list[tuple[str, float]]


def load_object(reference: str, field: str) -> Any:
    """`package.module:name` → the object; one that does not import is a ConfigError
    naming the option `field` it came from."""
    module, _, name = reference.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{field}: cannot import {reference!r}: {exc}") from exc


@dataclass(frozen=True)
class ImageItem:
    pixels: np.ndarray
    top_k: int


@dataclass(frozen=True)
class Box:
    label: str
    score: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    text: str = field(default="", kw_only=True)
    """The text read in the box (OCR models)."""


@dataclass(frozen=True)
class DetectItem:
    pixels: np.ndarray
    height: int
    width: int
    threshold: float
    max_detections: int


def _top(labels: Sequence[str], probs: np.ndarray, k: int) -> Scores:
    order = np.argsort(-probs, kind="stable")[:k]
    return [(labels[i], float(probs[i])) for i in order]


def probe_images() -> list[Image.Image]:
    """Images an engine is checked on at load: noise, gradients, stripes, flat colour, in
    landscape, portrait and square shapes."""
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(0, 255, 320, dtype=np.float32), (240, 1))
    gradient = np.stack([ramp, ramp[:, ::-1], np.full_like(ramp, 128)], -1)
    stripes = np.zeros((224, 224, 3), np.uint8)
    stripes[::16] = (250, 200, 20)
    arrays = [
        rng.integers(0, 256, (240, 320, 3), dtype=np.uint8),
        rng.integers(0, 256, (320, 240, 3), dtype=np.uint8),
        gradient.astype(np.uint8),
        stripes,
        np.full((300, 300, 3), (30, 120, 200), np.uint8),
        rng.normal(128, 40, (256, 384, 3)).clip(0, 255).astype(np.uint8),
    ]
    return [Image.fromarray(a) for a in arrays]


class ImageClassifier(BatchedModel[ImageItem, Scores]):
    """What the vision handler needs of any image classifier: a forward pass from
    `pixel_values` to logits, run on the engine the spec picks."""

    task = Task.IMAGE_CLASSIFICATION
    labels: list[str]
    device: torch.device
    dtype: torch.dtype
    engine: Engine

    def prepare(self, image: Image.Image) -> np.ndarray:
        """Model input for one decoded image (preprocess thread)."""
        raise NotImplementedError

    def load_engine(self, module: Forward, weights: tuple[Path, ...]) -> None:
        """Check `module` on each engine the spec allows; serve on the one picked."""
        pixels = [torch.from_numpy(self.prepare(image)) for image in probe_images()]
        graph = Graph(
            module=module,
            dynamic_axes={"pixel_values": {0: "batch"}, "output": {0: "batch"}},
            weights=weights,
            probe=(
                {"pixel_values": torch.stack(pixels).to(self.dtype)},
                {"pixel_values": pixels[0][None].to(self.dtype)},
            ),
            rows=lambda logits, _: logits,
            compare="logits",
        )
        choice = EngineChoice.of(self.spec, self.device, self.dtype, self.cache_dir)
        self.engine = load_engine(graph, choice, self.name)

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("image", "BYTES", (-1,)),),
            outputs=(
                TensorSpec("label", "BYTES", (-1, -1)),
                TensorSpec("score", "FP32", (-1, -1)),
            ),
            properties={"labels": str(len(self.labels)), **self.engine.describe()},
        )

    def warmup_batch(self) -> list[ImageItem]:
        return [ImageItem(self.prepare(Image.new("RGB", (320, 240), (120, 90, 60))), 1)]

    def predict_batch(self, batch: Sequence[ImageItem]) -> list[Scores | ModelportError]:
        pixels = torch.from_numpy(np.stack([item.pixels for item in batch])).to(self.dtype)
        with torch.inference_mode():
            probs = self.engine.run({"pixel_values": pixels}).float().softmax(-1).cpu()
        return [_top(self.labels, probs[i].numpy(), item.top_k) for i, item in enumerate(batch)]

    async def unload(self) -> None:
        vars(self).pop("engine", None)  # absent when loading failed
        await super().unload()


class TorchImageClassifier(ImageClassifier):
    """`runtime: torch-image-classification` (options: `TorchImageClassificationOptions`)."""

    options: TorchImageClassificationOptions

    def load_weights(self) -> None:
        options = self.options
        self.device, self.dtype = select_device(self.spec)
        factory: Callable[[], torch.nn.Module] = load_object(options.factory, "options.factory")
        module = factory().to(self.device, self.dtype).eval()
        labels = options.labels
        if isinstance(labels, str):
            labels = load_object(labels, "options.labels")()
        self.labels = list(labels or [])
        self.recipe = Recipe(options.preprocess)
        with torch.inference_mode():
            classes = module(
                torch.zeros(
                    1, 3, self.recipe.crop, self.recipe.crop, device=self.device, dtype=self.dtype
                )
            ).shape[-1]
        if not self.labels:
            self.labels = [str(i) for i in range(classes)]
        if len(self.labels) != classes:
            raise ConfigError(
                f"options.labels: {len(self.labels)} labels for a model with {classes} outputs"
            )
        self.load_engine(Forward(module, ("pixel_values",), None), ())

    def prepare(self, image: Image.Image) -> np.ndarray:
        return self.recipe.apply(image)


class HFImageClassifier(ImageClassifier):
    """`runtime: hf-image-classification`."""

    def load_weights(self) -> None:
        root = self.model_path()
        self.device, self.dtype = select_device(self.spec)
        self.processor = AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call]
            root, local_files_only=True
        )
        model: Any = AutoModelForImageClassification.from_pretrained(
            root, local_files_only=True, dtype=self.dtype
        )
        model = model.to(self.device).eval()
        config = model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.load_engine(Forward(model, ("pixel_values",), "logits"), weight_files(root))

    def prepare(self, image: Image.Image) -> np.ndarray:
        pixels: np.ndarray = self.processor(images=[image], return_tensors="np")["pixel_values"][0]
        return pixels.astype(np.float32, copy=False)


class HFObjectDetector(BatchedModel[DetectItem, list[Box]]):
    """`runtime: hf-object-detection`."""

    task = Task.OBJECT_DETECTION

    def load_weights(self) -> None:
        root = self.model_path()
        self.device, self.dtype = select_device(self.spec)
        self.processor = AutoImageProcessor.from_pretrained(  # type: ignore[no-untyped-call]
            root, local_files_only=True
        )
        model: Any = AutoModelForObjectDetection.from_pretrained(
            root, local_files_only=True, dtype=self.dtype
        )
        self.model = model.to(self.device).eval()
        self.labels = dict(self.model.config.id2label)

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("image", "BYTES", (-1,)),),
            outputs=(TensorSpec("detections", "BYTES", (-1,)),),
            properties={"labels": str(len(self.labels))},
        )

    def prepare(self, image: Image.Image, threshold: float, max_detections: int) -> DetectItem:
        pixels = self.processor(images=[image], return_tensors="np")["pixel_values"][0]
        return DetectItem(
            pixels.astype(np.float32, copy=False),
            image.height,
            image.width,
            threshold,
            max_detections,
        )

    def warmup_batch(self) -> list[DetectItem]:
        return [self.prepare(Image.new("RGB", (320, 240), (120, 90, 60)), 0.5, 1)]

    def predict_batch(self, batch: Sequence[DetectItem]) -> list[list[Box] | ModelportError]:
        out: list[list[Box] | ModelportError] = []
        for item in batch:  # sizes differ after resizing: one forward per image
            pixels = torch.from_numpy(item.pixels)[None].to(self.device, self.dtype)
            with torch.inference_mode():
                outputs = self.model(pixel_values=pixels)
                result = self.processor.post_process_object_detection(
                    outputs,
                    threshold=item.threshold,
                    target_sizes=[(item.height, item.width)],
                )[0]
            boxes = [
                Box(
                    self.labels.get(int(label), str(int(label))),
                    float(score),
                    *(float(v) for v in box),
                )
                for score, label, box in zip(
                    result["scores"], result["labels"], result["boxes"], strict=True
                )
            ]
            boxes.sort(key=lambda b: -b.score)
            out.append(boxes[: item.max_detections] if item.max_detections else boxes)
        return out
