"""A small synchronous Python client for Modelport (router or any backend).

Every call carries a deadline; gRPC failures surface as `ClientError` with the status
code and message, never as a bare `grpc.RpcError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType

import grpc

from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    nlp_pb2,
    nlp_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    vision_pb2,
    vision_pb2_grpc,
)

DEFAULT_TIMEOUT_S = 30.0


class ClientError(Exception):
    """A call failed; `code` is the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Embeddings:
    model: str
    version: str
    vectors: list[list[float]]
    input_tokens: int


class ModelportClient:
    """`with ModelportClient("127.0.0.1:50051") as client: client.embed(["hi"])`."""

    def __init__(self, target: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._channel = grpc.insecure_channel(
            target, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
        )
        self._timeout = timeout_s
        self._embedding = embedding_pb2_grpc.EmbeddingServiceStub(self._channel)
        self._registry = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self._nlp = nlp_pb2_grpc.NlpServiceStub(self._channel)
        self._vision = vision_pb2_grpc.VisionServiceStub(self._channel)

    def __enter__(self) -> ModelportClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def embed(
        self,
        texts: Sequence[str],
        *,
        model: str = "all-MiniLM-L6-v2",
        version: str = "",
        dimensions: int = 0,
        normalize: bool | None = None,
    ) -> Embeddings:
        request = embedding_pb2.EmbedRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            inputs=list(texts),
            dimensions=dimensions,
        )
        if normalize is not None:
            request.normalize = normalize
        try:
            response = self._embedding.Embed(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise _wrap(exc) from exc
        return Embeddings(
            response.model.name,
            response.model.version,
            [list(e.values) for e in response.embeddings],
            response.usage.input_tokens,
        )

    def classify(
        self, texts: Sequence[str], *, model: str = "sentiment", version: str = "", top_k: int = 0
    ) -> list[list[tuple[str, float]]]:
        """Labels with scores, best first, for each text."""
        request = nlp_pb2.ClassifyRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            inputs=list(texts),
            top_k=top_k,
        )
        try:
            response = self._nlp.Classify(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise _wrap(exc) from exc
        return [[(s.label, s.score) for s in r.labels] for r in response.results]

    def classify_images(
        self, images: Sequence[bytes], *, model: str = "efficientnet-lite0", top_k: int = 5
    ) -> list[list[tuple[str, float]]]:
        """Labels with scores, best first, for each encoded image (JPEG, PNG, WebP ...)."""
        request = vision_pb2.ClassifyImageRequest(
            model=common_pb2.ModelRef(name=model), images=list(images), top_k=top_k
        )
        try:
            response = self._vision.ClassifyImage(request, timeout=self._timeout)
        except grpc.RpcError as exc:
            raise _wrap(exc) from exc
        return [[(s.label, s.score) for s in r.labels] for r in response.results]

    def generate_stream(
        self,
        prompt: str,
        *,
        model: str = "gemma-3-270m",
        version: str = "",
        max_new_tokens: int = 0,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Text chunks as the model produces them."""
        parameters = nlp_pb2.GenerationParameters(max_new_tokens=max_new_tokens)
        if temperature is not None:
            parameters.do_sample = True
            parameters.temperature = temperature
        if seed is not None:
            parameters.seed = seed
        request = nlp_pb2.GenerateRequest(
            model=common_pb2.ModelRef(name=model, version=version),
            prompts=[prompt],
            parameters=parameters,
        )
        try:
            for chunk in self._nlp.GenerateStream(request, timeout=self._timeout):
                yield chunk.text
        except grpc.RpcError as exc:
            raise _wrap(exc) from exc

    def wait_for_models(self, names: Sequence[str]) -> registry_pb2.ListModelsResponse:
        """Watch the registry until every named model has a READY version, then list."""
        missing = set(names)
        try:
            if missing:
                events = self._registry.WatchModels(
                    registry_pb2.WatchModelsRequest(), timeout=self._timeout
                )
                for event in events:
                    if any(v.state == common_pb2.MODEL_STATE_READY for v in event.model.versions):
                        missing.discard(event.model.name)
                    if not missing:
                        events.cancel()  # type: ignore[no-untyped-call]
                        break
        except grpc.RpcError as exc:
            raise _wrap(exc) from exc
        return self.list_models()

    def list_models(self) -> registry_pb2.ListModelsResponse:
        try:
            return self._registry.ListModels(
                registry_pb2.ListModelsRequest(), timeout=self._timeout
            )
        except grpc.RpcError as exc:
            raise _wrap(exc) from exc


def _wrap(exc: grpc.RpcError) -> ClientError:
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return ClientError(code, details or "")
