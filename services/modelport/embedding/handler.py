"""Embedding logic behind the servicer: validation, model lookup, batching. No protobuf."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelport.inference.repository import ModelRepository
from modelport.inference.text import TextLimits, Truncation, validate_texts
from modelport.serving.calls import ModelListener, ignore_model
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
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


@dataclass(frozen=True)
class EmbedResult:
    """The answer to one EmbedCall."""

    model: str
    version: str
    embeddings: list[np.ndarray]
    input_tokens: int


class EmbeddingHandler:
    """Turns EmbedCalls into batched model work."""

    def __init__(self, repository: ModelRepository, limits: TextLimits) -> None:
        self._repository = repository
        self._limits = limits

    async def embed(self, call: EmbedCall) -> EmbedResult:
        validate_texts(call.inputs, "inputs", self._limits)
        managed = self._repository.get(call.model, call.version)
        call.on_model(managed.name, managed.version)
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
