"""Settings of the embedding service: its runtimes with their typed options, and the
process settings (environment, prefix `MODELPORT_`; no settings beyond the inference
ones). Torch-free: settings are read before torch is imported."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from modelport.inference.settings import (
    ModelSpec,
    Runtime,
    Runtimes,
    ServerSettings,
    TextOptions,
)


class SentenceEmbeddingOptions(TextOptions):
    """Options of `runtime: sentence-embedding`. Pooling, normalisation and the maximum
    sequence length come from the model folder's own sentence-transformers config."""


class SentenceEmbeddingSpec(ModelSpec):
    """A `sentence-embedding` model: a sentence-transformers (or plain Hugging Face) folder."""

    runtime: Literal["sentence-embedding"] = "sentence-embedding"
    options: SentenceEmbeddingOptions = Field(default_factory=SentenceEmbeddingOptions)


RUNTIMES = Runtimes(
    Runtime(SentenceEmbeddingSpec, "modelport.embedding.model:SentenceEmbeddingModel"),
)
"""The embedding service's runtimes: its model config and its model classes."""


class EmbeddingSettings(ServerSettings):
    """Settings of the embedding process."""

    runtimes: ClassVar[Runtimes] = RUNTIMES
