"""Vision logic behind the servicer: decode and check images off the event loop (in the
model's preprocessing threads, beside compute), then batch. No protobuf here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from modelport.inference.repository import ManagedModel, ModelRepository
from modelport.serving.calls import ModelListener, ignore_model
from modelport.serving.catalog import wrong_rpc
from modelport.serving.errors import FailedPrecondition, InvalidArgument

from .images import ImageLimits, decode
from .models import Box, HFObjectDetector, ImageClassifier, ImageItem, Scores

DEFAULT_TOP_K = 5
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ImagesCall:
    model: str
    version: str
    images: list[bytes]
    top_k: int = 0
    threshold: float = 0.0
    max_detections: int = 0
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


@dataclass(frozen=True)
class VisionAnswer:
    model: str
    version: str
    results: list[Any]


class VisionHandler:
    def __init__(self, repository: ModelRepository, limits: ImageLimits, max_inputs: int) -> None:
        self._repository = repository
        self._limits = limits
        self._max_inputs = max_inputs

    def _model(self, call: ImagesCall, kind: Any, rpc: str) -> ManagedModel:
        if not call.images:
            raise InvalidArgument("images", "must contain at least one image")
        if len(call.images) > self._max_inputs:
            raise InvalidArgument(
                "images", f"has {len(call.images)} images; at most {self._max_inputs} per call"
            )
        managed = self._repository.get(call.model, call.version)
        call.on_model(managed.name, managed.version)
        if not isinstance(managed.model, kind):
            raise wrong_rpc(call.model, managed.model.task, rpc) or FailedPrecondition(
                f"model {call.model!r} cannot serve {rpc}"
            )
        return managed

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

    async def detect(self, call: ImagesCall) -> VisionAnswer:
        if not 0.0 <= call.threshold <= 1.0:
            raise InvalidArgument("threshold", "must be between 0 and 1")
        managed = self._model(call, HFObjectDetector, "modelport.v1.VisionService/DetectObjects")
        model: HFObjectDetector = managed.model  # type: ignore[assignment]  # checked
        threshold = call.threshold or DEFAULT_THRESHOLD

        def prepare(data: bytes, index: int) -> Any:
            return model.prepare(self._decode(data, index), threshold, call.max_detections)

        managed.batcher.admit(len(call.images))
        items = await asyncio.gather(
            *(model.preprocess(prepare, data, i) for i, data in enumerate(call.images))
        )
        results: list[list[Box]] = await managed.batcher.submit(items)
        return VisionAnswer(managed.name, managed.version, results)
