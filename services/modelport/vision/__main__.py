"""Composition root of the vision service: `python -m modelport.vision`."""

from __future__ import annotations

from pydantic import Field

from modelport.inference.backend import backend_bindings
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.process import run_service
from modelport.inference.repository import ModelRepository
from modelport.inference.server import InferenceServer
from modelport.inference.settings import BatchingSettings, ModelSpec, ServerSettings
from modelport.v1 import vision_pb2, vision_pb2_grpc

SERVICE_NAME = vision_pb2.DESCRIPTOR.services_by_name["VisionService"].full_name


class VisionSettings(ServerSettings):
    """Settings of the vision process (besides every inference setting)."""

    max_image_bytes: int = Field(20 * 1024 * 1024, ge=1)
    """Largest encoded image accepted."""
    max_image_pixels: int = Field(40_000_000, ge=1)
    """Largest width x height accepted, checked from the header before decoding."""


def default_models() -> list[ModelSpec]:
    """EfficientNet-Lite0 (ImageNet-1k) from PyPI, with readable ImageNet class names."""
    return [
        ModelSpec(
            name="efficientnet-lite0",
            version="1",
            runtime="torch-image-classification",
            preprocess_threads=2,
            batching=BatchingSettings(max_batch_size=16),
            options={
                "factory": "modelport.vision.zoo:efficientnet_lite0",
                "labels": "modelport.vision.zoo:imagenet_labels",
                "preprocess": {
                    "resize": 256,
                    "crop": 224,
                    "mean": [127.0, 127.0, 127.0],
                    "std": [128.0, 128.0, 128.0],
                },
            },
        )
    ]


def build(settings: ServerSettings) -> InferenceServer:
    """Wire settings, models, handler and servicers into one server."""
    from modelport.ml.device import configure_threads

    from . import oip_adapter as oip
    from .handler import VisionHandler
    from .images import ImageLimits
    from .models import HFImageClassifier, HFObjectDetector, TorchImageClassifier
    from .servicer import VisionServicer

    vision = (
        settings
        if isinstance(settings, VisionSettings)
        else VisionSettings(**settings.model_dump())
    )
    configure_threads(vision.torch_threads)
    metrics = InferenceMetrics()
    repository = ModelRepository(
        {
            "torch-image-classification": TorchImageClassifier,
            "hf-image-classification": HFImageClassifier,
            "hf-object-detection": HFObjectDetector,
        },
        metrics,
        warmup=vision.warmup,
    )
    handler = VisionHandler(
        repository,
        ImageLimits(vision.max_image_bytes, vision.max_image_pixels),
        vision.max_inputs_per_request,
    )
    servicer = VisionServicer(handler)
    services = backend_bindings(
        SERVICE_NAME,
        lambda server: vision_pb2_grpc.add_VisionServiceServicer_to_server(servicer, server),
        repository,
        oip.adapters(handler),
    )
    return InferenceServer(vision, repository, services, metrics, name="modelport-vision")


def main() -> None:
    run_service(build, default_models, VisionSettings())


if __name__ == "__main__":
    main()
