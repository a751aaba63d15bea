"""`runtime: spacy-ner` and `runtime: spacy-textcat`: trained spaCy pipelines.

A pipeline loads from an installed spaCy model package (its `load()`) or a folder
(`spacy.load(path)`) and is cut to the component that answers plus the components it
listens to. Inputs are tokenised by spaCy's tokenizer on the model's preprocessing threads
(from a window of characters, so a huge input is never tokenised whole) and cut to
`options.max_tokens` as the truncation policy says; a batch runs through `nlp.pipe` on the
model's worker thread. thinc's CPU kernels are single-threaded: a spaCy model computes on
one core, and `n_process` stays 1 (no forked workers).

`spacy-ner` (ClassifyTokens): entities are spaCy's `doc.ents`, with offsets into the
original text in code points, so `text[start:end]` is the entity. spaCy's NER is a greedy
transition-based parser: it finds spans but computes no probability for them, so every
entity's `score` is 1.0 and `min_score` (0 to 1) drops none. spaCy's tokens are whole
words and its entities whole spans, so aggregations SIMPLE, FIRST and AVERAGE all give the
entity spans; NONE gives one entity per token inside an entity, labelled with its IOB tag
(`B-PERSON`, `I-PERSON`) as a token classifier's raw tags are.

`spacy-textcat` (Classify): the scores are the component's `doc.cats`, a softmax over the
labels for `textcat` (they sum to 1), one independent score per label for
`textcat_multilabel`; `top_k` keeps the best. `Explain` uses occlusion (spaCy models have
no gradients here): each token is taken out of the text in turn and the drop of the
target's score is its attribution.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from modelport.inference.explaining import Method, Work, target_index
from modelport.inference.model import ModelMetadata
from modelport.inference.settings import ModelSpec
from modelport.inference.text import Truncation
from modelport.ml.attribution import occlusion
from modelport.ml.text import (
    CHARS_PER_TOKEN,
    MAX_CHARS_PER_TOKEN,
    WINDOW_MARGIN_TOKENS,
    truncate,
    window_of,
)
from modelport.serving.errors import ConfigError, ModelportError

from .classify import Scores, TextClassifier, top
from .explain import INPUT_FIELD, TextExplanation, TextQuestion, TokenScore, ranked
from .settings import SpacyOptions
from .tokens import Aggregation, Entity, EntityTagger

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

ENTITY_SCORE = 1.0
"""The score of every spaCy entity: its NER computes none (see the module docstring)."""


@dataclass(frozen=True)
class Piece:
    """The part of one input a spaCy model reads, tokenised."""

    doc: Doc
    offset: int
    """Where `doc.text` starts in the input."""

    @property
    def tokens(self) -> int:
        return len(self.doc)


@dataclass(frozen=True)
class TextcatItem(Piece):
    top_k: int


@dataclass(frozen=True)
class EntityItem(Piece):
    text: str
    aggregation: Aggregation


class Pipeline:
    """A loaded spaCy pipeline cut to one component: tokenising and running batches."""

    def __init__(
        self,
        spec: ModelSpec,
        options: SpacyOptions,
        cache_dir: Path,
        components: Sequence[str],
        kind: str,
    ) -> None:
        """Load `spec`'s pipeline and keep `options.component` (default: the first of
        `components` the pipeline has) and what it listens to; `kind` names the runtime
        in errors."""
        import spacy

        if spec.package is not None:
            load = getattr(importlib.import_module(spec.package), "load", None)
            if not callable(load):
                raise ConfigError(
                    f"model {spec.name!r} ({kind}): package {spec.package!r} is not a spaCy "
                    "model package (it has no load())"
                )
            nlp: Language = load()
        else:
            nlp = spacy.load(spec.resolve_path(cache_dir))
        wanted = [options.component] if options.component else list(components)
        name = next((c for c in wanted if c in nlp.pipe_names), None)
        if name is None:
            raise ConfigError(
                f"model {spec.name!r} ({kind}): the pipeline has no component "
                f"{' or '.join(map(repr, wanted))}; it has {', '.join(nlp.pipe_names)}"
            )
        keep = {name} | {
            other
            for other in nlp.pipe_names
            if name in getattr(nlp.get_pipe(other), "listening_components", ())
        }
        for other in [p for p in nlp.pipe_names if p not in keep]:
            nlp.remove_pipe(other)
        self.nlp = nlp
        self.component = nlp.get_pipe(name)
        self.labels = [str(label) for label in self.component.labels]  # type: ignore[attr-defined]
        self.max_tokens = options.max_tokens
        self._tokenizing = threading.Lock()
        """Tokenising grows the shared vocabulary: one text at a time (the pipeline's
        components on the worker thread only read it)."""
        self.version = spacy.about.__version__

    def read(self, texts: Sequence[str], policy: Truncation) -> list[tuple[Doc, int]]:
        """Each text tokenised and cut to `max_tokens` as `policy` says, with where the kept
        part starts in the text. A text is tokenised from a window of characters at the
        end the policy keeps, widened until it yields more than `max_tokens +
        WINDOW_MARGIN_TOKENS` tokens or holds the whole text (as
        `modelport.ml.text.TextEncoder.encode_windows` does): only the word at the
        window's edge can tokenise differently, and it lies past the tokens kept."""
        return [self.read_one(text, policy, f"inputs[{i}]") for i, text in enumerate(texts)]

    def read_one(self, text: str, policy: Truncation, field: str) -> tuple[Doc, int]:
        """One text as `read` reads it; errors name `field`."""
        with self._tokenizing:
            return self._read(text, policy, field)

    def _read(self, text: str, policy: Truncation, field: str) -> tuple[Doc, int]:
        limit = self.max_tokens
        size = (limit + WINDOW_MARGIN_TOKENS) * CHARS_PER_TOKEN
        while True:
            piece = window_of(text, size, policy)
            cut = len(piece) < len(text)
            doc = self.nlp.tokenizer(piece)  # not make_doc: no nlp.max_length check
            if not (
                cut
                and len(doc) <= limit + WINDOW_MARGIN_TOKENS
                and size < limit * MAX_CHARS_PER_TOKEN
            ):
                break
            size *= 4
        start = len(text) - len(piece) if policy is Truncation.START else 0
        kept = truncate(list(range(len(doc))), limit, policy, field, cut=cut)
        if len(kept) < len(doc):
            first, last = kept[0], kept[-1] + 1
            start += doc[first].idx
            doc = doc[first:last].as_doc()
        return doc, start

    def run(self, docs: Sequence[Doc]) -> list[Doc]:
        """`docs` annotated by the pipeline, as one batch (on the calling thread)."""
        return list(self.nlp.pipe(docs, batch_size=max(1, len(docs))))

    def describe(self) -> dict[str, str]:
        """Properties for `ListModels` metadata."""
        meta = self.nlp.meta
        return {
            "engine": "spacy",
            "engine_version": self.version,
            "pipeline": ",".join(self.nlp.pipe_names),
            "source": f"{meta.get('lang', '')}_{meta.get('name', '')} {meta.get('version', '')}",
        }


class SpacyEntities(EntityTagger[EntityItem]):
    """`runtime: spacy-ner` (options: `SpacyOptions`)."""

    options: SpacyOptions

    def load_weights(self) -> None:
        self.pipeline = Pipeline(self.spec, self.options, self.cache_dir, ("ner",), "spacy-ner")
        self.labels = self.pipeline.labels

    def describe(self) -> dict[str, str]:
        return {
            "score": f"{ENTITY_SCORE} for every entity (spaCy's NER gives no confidence)",
            **self.pipeline.describe(),
        }

    def prepare(
        self,
        texts: Sequence[str],
        aggregation: Aggregation,
        min_score: float,
        policy: Truncation = Truncation.END,
    ) -> list[EntityItem]:
        # every entity scores ENTITY_SCORE, at least any min_score (0 to 1): none is dropped
        return [
            EntityItem(doc, offset, text, aggregation)
            for text, (doc, offset) in zip(texts, self.pipeline.read(texts, policy), strict=True)
        ]

    def predict_batch(self, batch: Sequence[EntityItem]) -> list[list[Entity] | ModelportError]:
        docs = self.pipeline.run([item.doc for item in batch])
        return [entities(item, doc) for item, doc in zip(batch, docs, strict=True)]

    async def unload(self) -> None:
        vars(self).pop("pipeline", None)  # absent when loading failed
        await super().unload()


def entities(item: EntityItem, doc: Doc) -> list[Entity]:
    """The entities of an annotated `doc`, located in the whole input. spaCy keeps runs
    of extra whitespace as tokens and its NER may tag them: they are left out, so an
    entity never starts or ends with whitespace."""
    if item.aggregation is Aggregation.NONE:
        spans = [
            (f"{t.ent_iob_}-{t.ent_type_}", t.idx, t.idx + len(t))
            for t in doc
            if t.ent_iob_ in ("B", "I") and not t.is_space
        ]
    else:
        spans = []
        for ent in doc.ents:
            words = [t for t in ent if not t.is_space]
            if words:
                spans.append((ent.label_, words[0].idx, words[-1].idx + len(words[-1])))
    base = item.offset
    return [
        Entity(label, ENTITY_SCORE, item.text[base + start : base + end], base + start, base + end)
        for label, start, end in spans
    ]


class SpacyClassifier(TextClassifier[TextcatItem]):
    """`runtime: spacy-textcat` (options: `SpacyOptions`)."""

    options: SpacyOptions

    def load_weights(self) -> None:
        self.pipeline = Pipeline(
            self.spec,
            self.options,
            self.cache_dir,
            ("textcat", "textcat_multilabel"),
            "spacy-textcat",
        )
        self.labels = self.pipeline.labels

    def metadata(self) -> ModelMetadata:
        base = super().metadata()
        properties = {**base.properties, **self.pipeline.describe()}
        return ModelMetadata(base.task, base.inputs, base.outputs, properties)

    def prepare(self, texts: Sequence[str], top_k: int, policy: Truncation) -> list[TextcatItem]:
        return [
            TextcatItem(doc, offset, top_k) for doc, offset in self.pipeline.read(texts, policy)
        ]

    def predict_batch(self, batch: Sequence[TextcatItem]) -> list[Scores | ModelportError]:
        docs = self.pipeline.run([item.doc for item in batch])
        return [
            top(self.labels, _scores(doc.cats, self.labels), item.top_k)
            for item, doc in zip(batch, docs, strict=True)
        ]

    def _cats(self, docs: Sequence[Doc]) -> list[np.ndarray]:
        return [_scores(doc.cats, self.labels) for doc in self.pipeline.run(docs)]

    def explain(self, q: TextQuestion) -> Work[TextExplanation]:
        """Occlusion: the drop of the target's score with each token taken out of the
        text (the rest of the text as it was, whitespace included)."""
        doc, offset = self.pipeline.read_one(q.text, q.policy, INPUT_FIELD)
        probs = self._cats([doc])[0]
        target = target_index(self.labels, q.target, probs.tolist())
        yield
        texts = ["".join(t.text_with_ws for t in doc if t.i != i) or " " for i in range(len(doc))]

        def scores(occluded: Sequence[str]) -> torch.Tensor:
            docs = [self.pipeline.read_one(t, Truncation.END, INPUT_FIELD)[0] for t in occluded]
            return torch.tensor([p[target] for p in self._cats(docs)])

        dropped = yield from occlusion(scores, texts, q.batch)
        tokens = [
            TokenScore(
                t.text,
                t.text,
                offset + t.idx,
                offset + t.idx + len(t.text),
                t.i,
                False,
                float(probs[target]) - value,
            )
            for t, value in zip(doc, dropped.tolist(), strict=True)
        ]
        return TextExplanation(
            ranked(self.labels, probs.tolist()),
            self.labels[target],
            float(probs[target]),
            Method.OCCLUSION,
            tokens,
            None,
            0,
            None,
            len(texts) + 1,
        )

    async def unload(self) -> None:
        vars(self).pop("pipeline", None)  # absent when loading failed
        await super().unload()


def _scores(cats: dict[str, Any], labels: Sequence[str]) -> np.ndarray:
    return np.array([float(cats[label]) for label in labels], dtype=np.float32)
