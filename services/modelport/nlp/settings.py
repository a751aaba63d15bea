"""Settings of the NLP service: its runtimes with their typed options, and the process
settings (environment, prefix `MODELPORT_`). Torch-free: settings are read before torch
is imported."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from modelport.inference.settings import (
    ModelSpec,
    Runtime,
    RuntimeOptions,
    Runtimes,
    ServerSettings,
    TextOptions,
)


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("is blank")
    return text


NonBlank = Annotated[str, AfterValidator(_not_blank)]


class SequenceClassificationOptions(TextOptions):
    """Options of `runtime: hf-sequence-classification`."""


class PrototypeOptions(TextOptions):
    """Options of `runtime: label-prototypes`: a classifier made of example sentences,
    scored with the folder's sentence-embedding model."""

    labels: dict[NonBlank, Annotated[list[NonBlank], Field(min_length=1)]] = Field(min_length=1)
    """Each label with a few example sentences of it (required; at least one label, each
    with at least one non-blank sentence). An input scores each label by its cosine
    similarity to the closest example of that label."""
    temperature: float = Field(0.05, gt=0)
    """Softmax temperature that turns the similarities into scores (lower: sharper)."""


class TokenClassificationOptions(TextOptions):
    """Options of `runtime: hf-token-classification`."""


class GenerativeOptions(RuntimeOptions):
    """Load options of `runtime: hf-causal-lm` and `hf-seq2seq` (the generation limits
    are settings of the process)."""

    max_context: int | None = Field(None, ge=1)
    """Most tokens of prompt plus generated text; unset: the model's own position limit.
    Lower it for models whose attention window is shorter (gemma's local layers: 512)."""


class SequenceClassificationSpec(ModelSpec):
    """A `hf-sequence-classification` model: AutoModelForSequenceClassification."""

    runtime: Literal["hf-sequence-classification"] = "hf-sequence-classification"
    options: SequenceClassificationOptions = Field(default_factory=SequenceClassificationOptions)


class PrototypeSpec(ModelSpec):
    """A `label-prototypes` model: a sentence-embedding folder plus example sentences."""

    runtime: Literal["label-prototypes"] = "label-prototypes"
    options: PrototypeOptions


class TokenClassificationSpec(ModelSpec):
    """A `hf-token-classification` model: AutoModelForTokenClassification (fast tokenizer)."""

    runtime: Literal["hf-token-classification"] = "hf-token-classification"
    options: TokenClassificationOptions = Field(default_factory=TokenClassificationOptions)


class CausalLMSpec(ModelSpec):
    """A `hf-causal-lm` model: AutoModelForCausalLM."""

    runtime: Literal["hf-causal-lm"] = "hf-causal-lm"
    options: GenerativeOptions = Field(default_factory=GenerativeOptions)


class Seq2SeqSpec(ModelSpec):
    """A `hf-seq2seq` model: AutoModelForSeq2SeqLM (T5, BART ...)."""

    runtime: Literal["hf-seq2seq"] = "hf-seq2seq"
    options: GenerativeOptions = Field(default_factory=GenerativeOptions)


RUNTIMES = Runtimes(
    Runtime(SequenceClassificationSpec, "modelport.nlp.classify:SequenceClassifier"),
    Runtime(PrototypeSpec, "modelport.nlp.classify:PrototypeClassifier"),
    Runtime(TokenClassificationSpec, "modelport.nlp.tokens:TokenClassifier"),
    Runtime(CausalLMSpec, "modelport.nlp.generate:CausalLM"),
    Runtime(Seq2SeqSpec, "modelport.nlp.generate:Seq2SeqLM"),
)
"""The NLP service's runtimes: its model config and its model classes."""


class NlpSettings(ServerSettings):
    """Settings of the NLP process (besides every inference setting)."""

    runtimes: ClassVar[Runtimes] = RUNTIMES

    default_max_new_tokens: int = Field(64, ge=1)
    """Tokens generated when a request does not say."""
    max_new_tokens: int = Field(512, ge=1)
    """Most tokens a request may ask for; above it is INVALID_ARGUMENT."""
    max_running: int = Field(8, ge=1)
    """Most sequences decoded together per model (the running batch)."""
    max_waiting: int = Field(256, ge=1)
    """Most generations waiting for a slot; beyond it RESOURCE_EXHAUSTED."""
    max_batch_tokens: int = Field(16384, ge=1)
    """KV budget: prompt + max_new_tokens summed over the running batch."""
