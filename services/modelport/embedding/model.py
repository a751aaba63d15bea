"""Sentence-embedding runtime for Hugging Face / sentence-transformers model folders.

Pooling, normalisation and the maximum sequence length come from the folder's own
sentence-transformers configuration (`modelport.ml.sentence`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modelport.inference.model import BatchedModel, ModelMetadata, TensorSpec
from modelport.inference.text import Truncation
from modelport.ml.device import select_device
from modelport.ml.engines import EngineChoice
from modelport.ml.sentence import SentenceEncoder, normalized
from modelport.serving.catalog import Task
from modelport.serving.errors import ModelportError

from .settings import SentenceEmbeddingOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedItem:
    """One text, tokenised, with what the caller asked for its vector."""

    ids: list[int]
    normalize: bool
    dimensions: int


class SentenceEmbeddingModel(BatchedModel[EmbedItem, np.ndarray]):
    """`runtime: sentence-embedding` (options: `SentenceEmbeddingOptions`)."""

    task = Task.EMBEDDING
    options: SentenceEmbeddingOptions

    def load_weights(self) -> None:
        root = self.model_path()
        device, dtype = select_device(self.spec)
        self.encoder = SentenceEncoder(
            root,
            device,
            dtype,
            self.options.max_padded_tokens,
            EngineChoice.of(self.spec, device, dtype, self.cache_dir),
        )
        self.config = self.encoder.config
        self.dimension = self.encoder.dimension
        log.info(
            "loaded %s from %s: dim=%d pooling=%s normalize=%s max_length=%d device=%s engine=%s",
            self.name,
            root,
            self.dimension,
            self.config.pooling,
            self.config.normalize,
            self.encoder.max_length,
            device,
            self.encoder.engine.kind,
        )

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("text", "BYTES", (-1,)),),
            outputs=(TensorSpec("embedding", "FP32", (-1, self.dimension)),),
            properties={
                "dimensions": str(self.dimension),
                "max_sequence_length": str(self.encoder.max_length),
                "pooling": self.config.pooling,
                "normalize": str(self.config.normalize).lower(),
                **self.encoder.engine.describe(),
            },
        )

    def tokenize(self, texts: Sequence[str], policy: Truncation) -> list[list[int]]:
        """Token ids with special tokens (preprocess thread)."""
        return self.encoder.tokenize_texts(texts, policy)

    def warmup_batch(self) -> list[EmbedItem]:
        ids = self.tokenize(["Modelport warms this model up."], Truncation.END)[0]
        return [EmbedItem(ids, self.config.normalize, 0)]

    def input_tokens(self, item: EmbedItem) -> int:
        return len(item.ids)

    def predict_batch(self, batch: Sequence[EmbedItem]) -> list[np.ndarray | ModelportError]:
        vectors = self.encoder.encode([item.ids for item in batch])
        return [_finish(v, item) for v, item in zip(vectors, batch, strict=True)]

    async def unload(self) -> None:
        vars(self).pop("encoder", None)  # absent when loading failed
        await super().unload()


def _finish(vector: np.ndarray, item: EmbedItem) -> np.ndarray:
    if item.dimensions:
        vector = vector[: item.dimensions]
    if item.normalize:
        vector = normalized(vector)
    return vector.astype(np.float32, copy=False)
