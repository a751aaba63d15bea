"""Vision logic behind the servicer: decode and check images off the event loop (in the
model's preprocessing threads, beside compute), then batch. No protobuf here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from modelport.inference.explaining import Baseline, ExplainQueue, Method, run_work
from modelport.inference.repository import ManagedModel, ModelRepository
from modelport.serving.calls import ModelListener, ignore_model
from modelport.serving.catalog import wrong_rpc
from modelport.serving.errors import FailedPrecondition, InvalidArgument

from .explain import DEFAULT_WINDOW, ImageExplanation, ImageQuestion, heatmap_png
from .images import ImageLimits, decode
from .models import Box, HFObjectDetector, ImageClassifier, ImageItem, Scores
from .ocr import RapidOcrModel, TextLine

EXPLAIN = "modelport.v1.VisionService/Explain"
DEFAULT_TOP_K = 5
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ImagesCall:
    model: str
    version: str
    images: list[bytes]
    top_k: int = 0
    threshold: float = 0.0
    """Detections (DetectObjects) or lines read (ReadText) scoring below it are dropped;
    0: the default, 0.5."""
    max_detections: int = 0
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


@dataclass(frozen=True)
class ExplainCall:
    model: str
    version: str
    image: bytes
    target: str
    method: Method | None
    """None: integrated gradients."""
    steps: int
    baseline: Baseline | None
    window: int
    stride: int
    heatmap: bool
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


@dataclass(frozen=True)
class ExplainAnswer:
    model: str
    version: str
    explanation: ImageExplanation
    heatmap_png: bytes


@dataclass(frozen=True)
class VisionAnswer:
    model: str
    version: str
    results: list[Any]


class VisionHandler:
    def __init__(
        self,
        repository: ModelRepository,
        limits: ImageLimits,
        max_inputs: int,
        explanations: ExplainQueue,
    ) -> None:
        self._repository = repository
        self._limits = limits
        self._max_inputs = max_inputs
        self._explanations = explanations

    def _resolve(
        self, name: str, version: str, on_model: ModelListener, kind: Any, rpc: str
    ) -> ManagedModel:
        managed = self._repository.get(name, version)
        on_model(managed.name, managed.version)
        if not isinstance(managed.model, kind):
            raise wrong_rpc(name, managed.model.task, rpc) or FailedPrecondition(
                f"model {name!r} cannot serve {rpc}"
            )
        return managed

    def _model(self, call: ImagesCall, kind: Any, rpc: str) -> ManagedModel:
        if not call.images:
            raise InvalidArgument("images", "must contain at least one image")
        if len(call.images) > self._max_inputs:
            raise InvalidArgument(
                "images", f"has {len(call.images)} images; at most {self._max_inputs} per call"
            )
        return self._resolve(call.model, call.version, call.on_model, kind, rpc)

    def _decode(self, data: bytes, index: int) -> Image.Image:
        return decode(data, self._limits, f"images[{index}]")

    async def classify(self, call: ImagesCall) -> VisionAnswer:
        managed = self._model(call, ImageClassifier, "modelport.v1.VisionService/ClassifyImage")
        model: ImageClassifier = managed.model  # type: ignore[assignment]  # checked
        top_k = call.top_k or DEFAULT_TOP_K

        def prepare(data: bytes, index: int) -> ImageItem:
            return ImageItem(model.prepare(self._decode(data, index)), top_k)

        managed.batcher.admit(len(call.images))
        items = await asyncio.gather(
            *(model.preprocess(prepare, data, i) for i, data in enumerate(call.images))
        )
        results: list[Scores] = await managed.batcher.submit(items)
        return VisionAnswer(managed.name, managed.version, results)

    def _threshold(self, call: ImagesCall, field: str) -> float:
        if not 0.0 <= call.threshold <= 1.0:
            raise InvalidArgument(field, "must be between 0 and 1")
        return call.threshold or DEFAULT_THRESHOLD

    async def _read(
        self, managed: ManagedModel, call: ImagesCall, threshold: float
    ) -> list[list[TextLine]]:
        model: RapidOcrModel = managed.model  # type: ignore[assignment]  # checked by caller

        def prepare(data: bytes, index: int) -> Any:
            return model.prepare(self._decode(data, index), threshold)

        managed.batcher.admit(len(call.images))
        items = await asyncio.gather(
            *(model.preprocess(prepare, data, i) for i, data in enumerate(call.images))
        )
        lines: list[list[TextLine]] = await managed.batcher.submit(items)
        return lines

    async def detect(self, call: ImagesCall) -> VisionAnswer:
        """Objects in each image, best first; an OCR model's are its text lines (label
        `text`, the line read in `text`)."""
        threshold = self._threshold(call, "threshold")
        managed = self._model(
            call, (HFObjectDetector, RapidOcrModel), "modelport.v1.VisionService/DetectObjects"
        )
        if isinstance(managed.model, RapidOcrModel):
            boxes = [
                sorted(
                    (
                        Box("text", t.confidence, t.x_min, t.y_min, t.x_max, t.y_max, text=t.text)
                        for t in lines
                    ),
                    key=lambda b: -b.score,
                )
                for lines in await self._read(managed, call, threshold)
            ]
            if call.max_detections:
                boxes = [found[: call.max_detections] for found in boxes]
            return VisionAnswer(managed.name, managed.version, boxes)
        model: HFObjectDetector = managed.model  # type: ignore[assignment]  # checked

        def prepare(data: bytes, index: int) -> Any:
            return model.prepare(self._decode(data, index), threshold, call.max_detections)

        managed.batcher.admit(len(call.images))
        items = await asyncio.gather(
            *(model.preprocess(prepare, data, i) for i, data in enumerate(call.images))
        )
        results: list[list[Box]] = await managed.batcher.submit(items)
        return VisionAnswer(managed.name, managed.version, results)

    async def read_text(self, call: ImagesCall) -> VisionAnswer:
        """The text lines of each image in reading order (`call.threshold`: the least
        confidence of a line kept)."""
        threshold = self._threshold(call, "min_confidence")
        managed = self._model(call, RapidOcrModel, "modelport.v1.VisionService/ReadText")
        lines = await self._read(managed, call, threshold)
        return VisionAnswer(managed.name, managed.version, lines)

    async def explain(self, call: ExplainCall) -> ExplainAnswer:
        """A saliency map of one image for a label, computed in the explanation queue at
        a lower priority than the model's inference."""
        limits = self._explanations.limits
        steps = limits.steps(call.steps)
        if call.baseline is Baseline.PAD:
            raise InvalidArgument("baseline", "BASELINE_PAD is for text; use ZERO or BLACK")
        method = call.method or Method.INTEGRATED_GRADIENTS
        baseline = call.baseline or Baseline.ZERO
        managed = self._resolve(call.model, call.version, call.on_model, ImageClassifier, EXPLAIN)
        model: ImageClassifier = managed.model  # type: ignore[assignment]  # checked
        self._explanations.admit(managed.name)

        def prepare() -> tuple[Image.Image, Any, Any]:
            image = decode(call.image, self._limits, "image")
            pixels = model.prepare(image)
            return image, pixels, model.baseline_pixels(baseline, image, pixels)

        image, pixels, base = await model.preprocess(prepare)
        window, stride = self._occlusion(call, method, pixels.shape[1:], limits.max_passes)
        question = ImageQuestion(
            pixels,
            base,
            image.width,
            image.height,
            call.target,
            method,
            steps,
            baseline,
            window,
            stride,
            limits.batch_size,
        )
        async with self._explanations.slot(managed.name):
            explanation = await run_work(managed.batcher, model.explain(question))
        png = (
            await model.preprocess(heatmap_png, image, explanation.saliency)
            if call.heatmap
            else b""
        )
        return ExplainAnswer(managed.name, managed.version, explanation, png)

    @staticmethod
    def _occlusion(
        call: ExplainCall, method: Method, size: tuple[int, int], max_passes: int
    ) -> tuple[int, int]:
        """The occlusion window and stride of a call (defaults filled in), checked
        against the model's input size and `explain_max_passes`."""
        if method is not Method.OCCLUSION:
            return 0, 0
        rows, columns = size
        window = call.window or min(DEFAULT_WINDOW, rows, columns)
        if window > min(rows, columns):
            raise InvalidArgument(
                "window", f"is {window}; the model's input is {columns}x{rows} pixels"
            )
        stride = call.stride or max(1, window // 2)
        if stride > window:
            raise InvalidArgument("stride", f"is {stride}; at most the window ({window})")
        passes = (-(-(rows - window) // stride) + 1) * (-(-(columns - window) // stride) + 1)
        if passes > max_passes:
            raise InvalidArgument(
                "stride",
                f"window {window} every {stride} pixels takes {passes} forward passes; "
                f"at most {max_passes} (explain_max_passes)",
            )
        return window, stride
