"""`runtime: rapidocr`: text detection and recognition (OCR) with RapidOCR's PP-OCR ONNX
models (the `rapidocr` package ships them), run by ONNX Runtime.

One batch of images goes through the pipeline in three steps: each image's text lines are
detected (one forward pass per image: sizes differ), every line of every image is turned
upright if the direction classifier says it is upside down, and all lines are recognised
together, `options.rec_batch_size` per forward pass. Lines come back in reading order with
boxes in pixels of the original image.

Nothing is downloaded: the three model files are given to RapidOCR by path (the packaged
ones unless the options name others), and the ONNX Runtime sessions are built here with
the thread counts of the spec (`engine_options.threads`, `allow_spinning`), not
RapidOCR's defaults (every core, spinning threads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image

from modelport.inference.model import BatchedModel, ModelMetadata, TensorSpec
from modelport.ml.device import require_cuda
from modelport.serving.catalog import Task
from modelport.serving.errors import ConfigError, ModelportError

from .settings import RapidOcrOptions

CUDA = "CUDAExecutionProvider"


@dataclass(frozen=True)
class OcrItem:
    """One decoded image (BGR, as the PP-OCR models read it) and the least confidence of
    the lines to keep."""

    pixels: np.ndarray
    min_confidence: float


@dataclass(frozen=True)
class TextLine:
    """One line read: its text, the recognition's confidence and its box (pixels of the
    original image)."""

    text: str
    confidence: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float


def packaged_models() -> dict[str, Path]:
    """The ONNX files inside the `rapidocr` package: PP-OCRv6 small detection and
    recognition, PP-OCR mobile v2 line direction."""
    import rapidocr

    folder = Path(rapidocr.__file__).parent / "models"
    return {
        "det": folder / "PP-OCRv6_det_small.onnx",
        "cls": folder / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
        "rec": folder / "PP-OCRv6_rec_small.onnx",
    }


def rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines grouped into rows, top to bottom, each row left to right: a line whose
    vertical middle is within half a line height of a row's first line is on that row."""
    found: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda t: t.y_min + t.y_max):
        if found:
            first = found[-1][0]
            gap = abs((line.y_min + line.y_max) - (first.y_min + first.y_max)) / 2
            if gap <= (first.y_max - first.y_min) / 2:
                found[-1].append(line)
                continue
        found.append([line])
    return [sorted(row, key=lambda t: t.x_min) for row in found]


def reading_order(lines: Sequence[TextLine]) -> list[TextLine]:
    """Top to bottom, and left to right within a row (see `rows`)."""
    return [line for row in rows(lines) for line in row]


def joined(lines: Sequence[TextLine]) -> str:
    """The text of `lines`: a space between lines of one row, a newline between rows."""
    return "\n".join(" ".join(line.text for line in row) for row in rows(lines))


class RapidOcrModel(BatchedModel[OcrItem, list[TextLine]]):
    """`runtime: rapidocr` (options: `RapidOcrOptions`)."""

    task = Task.OCR
    options: RapidOcrOptions

    def _session_options(self) -> ort.SessionOptions:
        engine = self.spec.engine_options
        options = ort.SessionOptions()
        options.intra_op_num_threads = engine.threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if engine.allow_spinning else "0"
        )
        for key, value in engine.session_config.items():
            options.add_session_config_entry(key, value)
        return options

    def _providers(self) -> list[Any]:
        available = ort.get_available_providers()
        problem = (
            None
            if CUDA in available
            else (
                f"onnxruntime {ort.__version__} has no {CUDA} (providers: {', '.join(available)})"
            )
        )
        require_cuda(self.spec, problem)
        options = dict(self.spec.engine_options.provider_options)
        if self.spec.device == "cuda":
            return [(CUDA, options), "CPUExecutionProvider"]
        return [("CPUExecutionProvider", options)]

    def load_weights(self) -> None:
        from rapidocr import RapidOCR

        if self.spec.engine == "torch":
            raise ConfigError("engine: the rapidocr runtime runs on ONNX Runtime (auto)")
        o = self.options
        files = packaged_models()
        chosen = {"det": o.det_model, "cls": o.cls_model, "rec": o.rec_model}
        paths = {step: chosen[step] or default for step, default in files.items()}
        for step, path in paths.items():
            if not path.is_file():
                raise ConfigError(f"options.{step}_model: no file at {path}")
        self.paths = paths
        engine: Any = RapidOCR(
            params={
                "Global.log_level": "warning",
                "Global.use_cls": o.use_cls,
                "Global.text_score": 0.0,  # filtered here, per call
                "Det.model_path": str(paths["det"]),
                "Det.limit_type": "max",
                "Det.limit_side_len": o.det_limit_side_len,
                "Cls.model_path": str(paths["cls"]),
                "Rec.model_path": str(paths["rec"]),
                "Rec.rec_batch_num": o.rec_batch_size,
            }
        )
        # RapidOCR takes a ready session per step (its `session` key): ours, so the thread
        # counts are the spec's. Its config must be told to hold an object.
        session_options, providers = self._session_options(), self._providers()
        engine.cfg._set_flag("allow_objects", True)
        for section, step in (("Det", "det"), ("Cls", "cls"), ("Rec", "rec")):
            engine.cfg[section].session = ort.InferenceSession(
                str(paths[step]), sess_options=session_options, providers=providers
            )
        engine._load_det_model()
        engine._load_cls_model()
        engine._load_rec_model()
        self.providers = engine.text_det.session.session.get_providers()
        self.engine = engine

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("image", "BYTES", (-1,)),),
            outputs=(
                TensorSpec("text", "BYTES", (-1,)),
                TensorSpec("lines", "BYTES", (-1,)),
            ),
            properties={
                "engine": "onnxruntime",
                "providers": ",".join(self.providers),
                **{f"{step}_model": path.name for step, path in self.paths.items()},
            },
        )

    def prepare(self, image: Image.Image, min_confidence: float) -> OcrItem:
        """Model input for one decoded RGB image (preprocess thread)."""
        pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[:, :, ::-1])
        return OcrItem(pixels, min_confidence)

    def warmup_batch(self) -> list[OcrItem]:
        from PIL import ImageDraw

        image = Image.new("RGB", (320, 64), "white")
        ImageDraw.Draw(image).text((8, 8), "warm up 123", fill="black", font_size=32)
        return [self.prepare(image, 0.5)]

    def _detect(self, item: OcrItem) -> tuple[list[np.ndarray], np.ndarray]:
        """The crops of one image's text lines and their quadrilaterals in pixels of the
        original image (empty when no text is found)."""
        from rapidocr.main import RapidOCRError
        from rapidocr.utils.process_img import map_boxes_to_original

        engine = self.engine
        height, width = item.pixels.shape[:2]
        image, record = engine.preprocess_img(item.pixels)
        try:
            crops, found = engine.detect_and_crop(image, record)
        except RapidOCRError:  # RapidOCR's way of saying "no text here"
            return [], np.zeros((0, 4, 2), np.float32)
        quads = map_boxes_to_original(np.array(found.boxes, np.float32), record, height, width)
        return list(crops), quads

    def predict_batch(self, batch: Sequence[OcrItem]) -> list[list[TextLine] | ModelportError]:
        engine: Any = self.engine
        detected = [self._detect(item) for item in batch]
        crops = [crop for image_crops, _ in detected for crop in image_crops]
        texts: list[tuple[str, float]] = []
        if crops:
            if engine.use_cls:
                crops, _ = engine.cls_and_rotate(crops)
            read = engine.text_rec(self._rec_input(crops))
            texts = list(zip(read.txts, read.scores, strict=True))
        out: list[list[TextLine] | ModelportError] = []
        start = 0
        for item, (image_crops, quads) in zip(batch, detected, strict=True):
            lines = []
            for (text, score), quad in zip(
                texts[start : start + len(image_crops)], quads, strict=True
            ):
                text = text.strip()
                if text and score >= item.min_confidence:
                    xs, ys = quad[:, 0], quad[:, 1]
                    lines.append(
                        TextLine(
                            text,
                            float(score),
                            float(xs.min()),
                            float(ys.min()),
                            float(xs.max()),
                            float(ys.max()),
                        )
                    )
            start += len(image_crops)
            out.append(reading_order(lines))
        return out

    @staticmethod
    def _rec_input(crops: list[np.ndarray]) -> Any:
        from rapidocr.ch_ppocr_rec import TextRecInput

        return TextRecInput(img=crops, return_word_box=False)

    async def unload(self) -> None:
        vars(self).pop("engine", None)  # absent when loading failed
        await super().unload()
