"""Composition root of the vision service: `python -m modelport.vision`."""

from __future__ import annotations

from modelport.inference.backend import backend_bindings
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.process import run_service
from modelport.inference.repository import ModelRepository
from modelport.inference.server import InferenceServer
from modelport.inference.settings import BatchingSettings, ModelSpec
from modelport.v1 import vision_pb2, vision_pb2_grpc

from .settings import (
    PreprocessOptions,
    RapidOcrSpec,
    TorchImageClassificationOptions,
    TorchImageClassificationSpec,
    VisionSettings,
)

SERVICE_NAME = vision_pb2.DESCRIPTOR.services_by_name["VisionService"].full_name


def default_models() -> list[ModelSpec]:
    """EfficientNet-Lite0 (ImageNet-1k) from PyPI, with readable ImageNet class names, and
    RapidOCR's PP-OCR models (text detection and recognition, in the rapidocr package)."""
    return [
        TorchImageClassificationSpec(
            name="efficientnet-lite0",
            preprocess_threads=2,
            batching=BatchingSettings(max_batch_size=16),
            options=TorchImageClassificationOptions(
                factory="modelport.vision.zoo:efficientnet_lite0",
                labels="modelport.vision.zoo:imagenet_labels",
                preprocess=PreprocessOptions(
                    resize=256, crop=224, mean=(127.0, 127.0, 127.0), std=(128.0, 128.0, 128.0)
                ),
            ),
        ),
        RapidOcrSpec(name="ocr", batching=BatchingSettings(max_batch_size=8)),
    ]


def build(settings: VisionSettings) -> InferenceServer:
    """Wire settings, models, handler and servicers into one server."""
    from modelport.inference.explaining import ExplainQueue
    from modelport.ml.device import configure_threads

    from . import oip_adapter as oip
    from .handler import VisionHandler
    from .images import ImageLimits
    from .servicer import VisionServicer

    configure_threads(settings.torch_threads)
    metrics = InferenceMetrics()
    repository = ModelRepository.of(settings, metrics)
    handler = VisionHandler(
        repository,
        ImageLimits(settings.max_image_bytes, settings.max_image_pixels),
        settings.max_inputs_per_request,
        ExplainQueue(settings.explain_limits(), metrics),
    )
    servicer = VisionServicer(handler)
    services = backend_bindings(
        SERVICE_NAME,
        lambda server: vision_pb2_grpc.add_VisionServiceServicer_to_server(servicer, server),
        repository,
        oip.adapters(handler),
        metrics.requests,
    )
    return InferenceServer(settings, repository, services, metrics, name="modelport-vision")


def main() -> None:
    run_service(VisionSettings, build, default_models)


if __name__ == "__main__":
    main()
