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

from modelport.inference.explaining import Baseline, Method, Work, target_index
from modelport.inference.model import BatchedModel, ModelMetadata, TensorSpec
from modelport.ml.attribution import integrated_gradients, occlusion, window_starts
from modelport.ml.device import select_device
from modelport.ml.engines import Engine, EngineChoice, Forward, Graph, load_engine
from modelport.ml.hf import weight_files
from modelport.serving.catalog import Task
from modelport.serving.errors import ConfigError, ModelportError

from .explain import ImageExplanation, ImageQuestion, Placement
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

    def placement(self, width: int, height: int, rows: int, columns: int) -> Placement:
        """Where the model's input (`rows` x `columns`) lies in an image of `width` x
        `height`; by default the whole image, resized."""
        return Placement(columns, rows, 0, 0)

    def load_engine(self, module: Forward, weights: tuple[Path, ...]) -> None:
        """Check `module` on each engine the spec allows; serve on the one picked. The
        torch module is kept for explanations (integrated gradients): no extra memory
        on torch, a second copy of the weights when ONNX Runtime serves."""
        self.torch_module = module.requires_grad_(False)
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

    def _probabilities(self, pixels: torch.Tensor) -> torch.Tensor:
        """Label scores `[batch, labels]` on the serving engine."""
        with torch.inference_mode():
            return self.engine.run({"pixel_values": pixels.to(self.dtype)}).float().softmax(-1)

    def explain(self, q: ImageQuestion) -> Work[ImageExplanation]:
        """A saliency map of the image for the target label, in pieces (on the model's
        worker thread): integrated gradients on the pixels of the model's input (summed
        over channels), or occlusion of square windows of it; mapped onto the image."""
        x = torch.from_numpy(q.pixels)
        base = torch.from_numpy(q.baseline_pixels)
        probs = self._probabilities(x[None])[0].cpu()
        target = target_index(self.labels, q.target, probs.tolist())
        yield
        rows, columns = x.shape[1:]
        delta: float | None = None
        if q.method is Method.INTEGRATED_GRADIENTS:

            def score(points: torch.Tensor) -> torch.Tensor:
                logits: torch.Tensor = self.torch_module(points.to(self.device, self.dtype))
                return logits.float().softmax(-1)[:, target]

            found = yield from integrated_gradients(score, x, base, q.steps, q.batch)
            saliency = found.attributions.sum(0)
            delta, passes = found.delta, found.passes
        else:
            w = q.window
            grid = [
                (top, left)
                for top in window_starts(rows, w, q.stride)
                for left in window_starts(columns, w, q.stride)
            ]

            def scores(windows: Sequence[tuple[int, int]]) -> torch.Tensor:
                batch = x.repeat(len(windows), 1, 1, 1)
                for i, (top, left) in enumerate(windows):
                    patch = base[:, top : top + w, left : left + w]
                    batch[i, :, top : top + w, left : left + w] = patch
                return self._probabilities(batch)[:, target]

            dropped = yield from occlusion(scores, grid, q.batch)
            total = torch.zeros(rows, columns)
            count = torch.zeros(rows, columns)
            for (top, left), value in zip(grid, dropped.tolist(), strict=True):
                total[top : top + w, left : left + w] += float(probs[target]) - value
                count[top : top + w, left : left + w] += 1
            saliency = total / count.clamp(min=1)
            passes = len(grid) + 1
        return ImageExplanation(
            _top(self.labels, probs.numpy(), 5),
            self.labels[target],
            float(probs[target]),
            q.method,
            self._on_image(saliency.float().cpu(), q.width, q.height),
            delta,
            q.steps if q.method is Method.INTEGRATED_GRADIENTS else 0,
            q.baseline,
            q.window if q.method is Method.OCCLUSION else 0,
            q.stride if q.method is Method.OCCLUSION else 0,
            passes,
        )

    def _on_image(self, saliency: torch.Tensor, width: int, height: int) -> np.ndarray:
        """A map over the model's input placed where that input lies in the image (0
        where the crop left the image out) and resampled (bilinear) to the image's size."""
        rows, columns = saliency.shape
        place = self.placement(width, height, rows, columns)
        canvas = torch.zeros(max(place.height, rows + place.top), max(place.width, columns))
        canvas[place.top : place.top + rows, place.left : place.left + columns] = saliency
        canvas = canvas[: place.height, : place.width]
        resized = torch.nn.functional.interpolate(
            canvas[None, None], size=(height, width), mode="bilinear", align_corners=False
        )[0, 0]
        out: np.ndarray = resized.numpy().astype(np.float32)
        return out

    def baseline_pixels(
        self, baseline: Baseline, image: Image.Image, like: np.ndarray
    ) -> np.ndarray:
        """The baseline as a model input shaped like `like` (preprocess thread)."""
        if baseline is Baseline.BLACK:
            return self.prepare(Image.new("RGB", image.size, (0, 0, 0)))
        return np.zeros_like(like)

    async def unload(self) -> None:
        vars(self).pop("engine", None)  # absent when loading failed
        vars(self).pop("torch_module", None)
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

    def placement(self, width: int, height: int, rows: int, columns: int) -> Placement:
        size = self.recipe.resized(width, height)
        return Placement(*size, *self.recipe.crop_origin(size))


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

    def placement(self, width: int, height: int, rows: int, columns: int) -> Placement:
        """A processor that resizes the shorter side and centre-crops (`shortest_edge`,
        `do_center_crop`) cut the input from the middle; any other is taken to have
        resized the whole image."""
        size = dict(getattr(self.processor, "size", None) or {})
        if getattr(self.processor, "do_center_crop", False) and "shortest_edge" in size:
            factor = size["shortest_edge"] / min(width, height)
            resized = (round(width * factor), round(height * factor))
            return Placement(*resized, (resized[0] - columns) // 2, (resized[1] - rows) // 2)
        return super().placement(width, height, rows, columns)


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
