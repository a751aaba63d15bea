"""Settings of the vision service: its runtimes with their typed options, and the process
settings (environment, prefix `MODELPORT_`). Torch-free: settings are read before torch
is imported."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from modelport.inference.settings import (
    ModelSpec,
    Runtime,
    RuntimeOptions,
    Runtimes,
    ServerSettings,
)

_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def _reference(text: str) -> str:
    if not _REFERENCE.fullmatch(text):
        raise ValueError(f"{text!r} must look like 'package.module:function'")
    return text


Reference = Annotated[str, AfterValidator(_reference)]
"""A Python object as `package.module:name` (imported when the model loads)."""


def _labels(labels: list[str] | str | None) -> list[str] | str | None:
    return _reference(labels) if isinstance(labels, str) else labels


Positive = Annotated[float, Field(gt=0)]


class PreprocessOptions(RuntimeOptions):
    """How an image becomes the input of a plain torch module: resize the shorter side,
    centre-crop, scale, normalise (`(x * scale - mean) / std` per channel)."""

    resize: int = Field(256, ge=1)
    """Length the shorter side is resized to."""
    crop: int = Field(224, ge=1)
    """Side of the square centre crop the model sees."""
    scale: float = Field(1.0, gt=0)
    """Pixels are 0..255 multiplied by this before normalising (1/255 for 0..1 inputs)."""
    mean: tuple[float, float, float] = (127.0, 127.0, 127.0)
    """Subtracted per channel after scaling."""
    std: tuple[Positive, Positive, Positive] = (128.0, 128.0, 128.0)
    """Divides each channel after the mean is subtracted."""
    channels: Literal["RGB", "BGR"] = "RGB"
    """Channel order the model expects."""


class TorchImageClassificationOptions(RuntimeOptions):
    """Options of `runtime: torch-image-classification`: a plain torch module."""

    factory: Reference
    """`package.module:function` returning the module, weights loaded (required)."""
    labels: Annotated[list[str] | str | None, AfterValidator(_labels)] = None
    """Class names in output order: a list, or `package.module:function` returning one;
    unset: the output indices. Their number must equal the module's outputs."""
    preprocess: PreprocessOptions = Field(default_factory=PreprocessOptions)
    """The preprocessing recipe the module was trained with."""


class TorchImageClassificationSpec(ModelSpec):
    """A `torch-image-classification` model: built by a factory, no model folder needed."""

    runtime: Literal["torch-image-classification"] = "torch-image-classification"
    options: TorchImageClassificationOptions
    needs_folder: ClassVar[bool] = False


class HFImageClassificationSpec(ModelSpec):
    """A `hf-image-classification` model: AutoImageProcessor +
    AutoModelForImageClassification (no options)."""

    runtime: Literal["hf-image-classification"] = "hf-image-classification"


class HFObjectDetectionSpec(ModelSpec):
    """A `hf-object-detection` model: AutoImageProcessor + AutoModelForObjectDetection
    (no options)."""

    runtime: Literal["hf-object-detection"] = "hf-object-detection"


class RapidOcrOptions(RuntimeOptions):
    """Options of `runtime: rapidocr`: RapidOCR's PP-OCR pipeline (text detection, line
    direction, recognition) on ONNX Runtime. Threads: `engine_options.threads` (0: the
    process's torch threads), no spinning unless `engine_options.allow_spinning`."""

    det_model: Path | None = None
    """Text detection ONNX model; unset: PP-OCRv6 small, shipped in the rapidocr package."""
    cls_model: Path | None = None
    """Line direction (0/180 degrees) ONNX model; unset: PP-OCR mobile v2, shipped."""
    rec_model: Path | None = None
    """Text recognition ONNX model (its characters in its metadata); unset: PP-OCRv6
    small, shipped (Chinese and Latin characters, digits, punctuation)."""
    use_cls: bool = True
    """Turn lines the direction model finds upside down before reading them."""
    det_limit_side_len: int = Field(960, ge=32)
    """Images whose longer side exceeds this are scaled down to it for detection (boxes
    are still given in pixels of the original image)."""
    rec_batch_size: int = Field(6, ge=1)
    """Text lines recognised per forward pass (lines of every image of a batch together)."""


class RapidOcrSpec(ModelSpec):
    """A `rapidocr` model: the packaged PP-OCR models unless the options name others; no
    model folder needed."""

    runtime: Literal["rapidocr"] = "rapidocr"
    options: RapidOcrOptions = Field(default_factory=RapidOcrOptions)
    needs_folder: ClassVar[bool] = False
    follows_default_device: ClassVar[bool] = False
    """`auto` is the CPU: the images' ONNX Runtime has no CUDA provider, so only an
    explicit `device: cuda` (with onnxruntime-gpu installed) runs it on a GPU."""


RUNTIMES = Runtimes(
    Runtime(TorchImageClassificationSpec, "modelport.vision.models:TorchImageClassifier"),
    Runtime(HFImageClassificationSpec, "modelport.vision.models:HFImageClassifier"),
    Runtime(HFObjectDetectionSpec, "modelport.vision.models:HFObjectDetector"),
    Runtime(RapidOcrSpec, "modelport.vision.ocr:RapidOcrModel"),
)
"""The vision service's runtimes: its model config and its model classes."""


class VisionSettings(ServerSettings):
    """Settings of the vision process (besides every inference setting)."""

    runtimes: ClassVar[Runtimes] = RUNTIMES

    max_image_bytes: int = Field(20 * 1024 * 1024, ge=1)
    """Largest encoded image accepted."""
    max_image_pixels: int = Field(40_000_000, ge=1)
    """Largest width x height accepted, checked from the header before decoding."""
