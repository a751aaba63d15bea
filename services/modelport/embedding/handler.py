"""Embedding logic behind the servicer: validation, model lookup, batching. No protobuf."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelport.inference.repository import ModelRepository
from modelport.inference.text import Truncation, validate_texts
from modelport.serving.catalog import wrong_rpc
from modelport.serving.errors import FailedPrecondition, InvalidArgument

from .model import EmbedItem, SentenceEmbeddingModel

EMBED = "modelport.v1.EmbeddingService/Embed"


@dataclass(frozen=True)
class EmbedCall:
    """One Embed request in plain Python types."""

    model: str
    version: str
    inputs: list[str]
    normalize: bool | None
    dimensions: int
    truncation: Truncation


@dataclass(frozen=True)
class EmbedResult:
    """The answer to one EmbedCall."""

    model: str
    version: str
    embeddings: list[np.ndarray]
    input_tokens: int


class EmbeddingHandler:
    """Turns EmbedCalls into batched model work."""

    def __init__(self, repository: ModelRepository, max_inputs_per_request: int) -> None:
        self._repository = repository
        self._max_inputs = max_inputs_per_request

    async def embed(self, call: EmbedCall) -> EmbedResult:
        validate_texts(call.inputs, "inputs", self._max_inputs)
        managed = self._repository.get(call.model, call.version)
        model = managed.model
        if not isinstance(model, SentenceEmbeddingModel):
            raise wrong_rpc(call.model, model.task, EMBED) or FailedPrecondition(
                f"model {call.model!r} cannot serve {EMBED}"
            )
        if call.dimensions > model.dimension:
            raise InvalidArgument(
                "dimensions", f"is {call.dimensions}; the model has {model.dimension}"
            )
        managed.batcher.admit(len(call.inputs))
        ids: list[list[int]] = await model.preprocess(model.tokenize, call.inputs, call.truncation)
        normalize = model.config.normalize if call.normalize is None else call.normalize
        items = [EmbedItem(i, normalize, call.dimensions) for i in ids]
        vectors = await managed.batcher.submit(items)
        return EmbedResult(managed.name, managed.version, vectors, sum(len(i) for i in ids))
