"""`runtime: hf-token-classification`: named entities and other span labels.

Texts are tokenised with character offsets; predictions are merged into entities at
word level as the caller's aggregation asks; offsets index the original text in Unicode
code points (Python string indices), so `text[start:end]` is the entity.
`EntityTagger` is what the NLP handler needs of any entity model (`spacy-ner` in
`modelport.nlp.spacy_pipeline` is the other).
"""

from __future__ import annotations

import enum
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from modelport.inference.model import BatchedModel, ModelMetadata, TensorSpec
from modelport.inference.text import TextItem, Truncation
from modelport.ml.device import select_device
from modelport.ml.engines import EngineChoice, load_engine
from modelport.ml.hf import text_graph
from modelport.ml.text import TextEncoder, truncate
from modelport.serving.catalog import Task
from modelport.serving.errors import ConfigError, ModelportError

from .settings import TokenClassificationOptions


class Aggregation(enum.Enum):
    NONE = "none"
    SIMPLE = "simple"
    FIRST = "first"
    AVERAGE = "average"


@dataclass(frozen=True)
class Entity:
    label: str
    score: float
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class TokenItem:
    """One text, tokenised with offsets and word ids (special tokens excluded)."""

    text: str
    ids: list[int]
    offsets: list[tuple[int, int]]
    words: list[int]
    aggregation: Aggregation
    min_score: float

    @property
    def tokens(self) -> int:
        return len(self.ids)


Item = TypeVar("Item", bound=TextItem)


class EntityTagger(BatchedModel[Item, list[Entity]]):
    """What the NLP handler needs of any entity model: its labels, and inputs prepared
    (off the loop) for its batcher, each answered with its entities."""

    task = Task.TOKEN_CLASSIFICATION
    labels: list[str]

    @abstractmethod
    def prepare(
        self,
        texts: Sequence[str],
        aggregation: Aggregation,
        min_score: float,
        policy: Truncation = Truncation.END,
    ) -> list[Item]:
        """The batcher's inputs for `texts` (runs on a preprocessing thread)."""

    def warmup_batch(self) -> list[Item]:
        return self.prepare(["Modelport warms up in Paris."], Aggregation.SIMPLE, 0.0)

    def input_tokens(self, item: Item) -> int:
        return item.tokens

    def describe(self) -> dict[str, str]:
        """Properties of the metadata besides `labels` (what runs the model)."""
        return {}

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("text", "BYTES", (-1,)),),
            outputs=(TensorSpec("entities", "BYTES", (-1,)),),
            properties={"labels": ",".join(self.labels), **self.describe()},
        )


@dataclass
class _Span:
    label: str
    scores: list[float]
    start: int
    end: int


def _entity_type(label: str) -> tuple[str, bool]:
    """("PER", begins) for "B-PER"; plain labels are their own type."""
    if label[:2] in ("B-", "I-", "E-", "S-"):
        return label[2:], label[:2] in ("B-", "S-")
    return label, False


def aggregate(item: TokenItem, probs: np.ndarray, labels: Sequence[str]) -> list[Entity]:
    """Merge per-token probabilities `[tokens, labels]` into entities."""
    units: list[tuple[str, float, int, int]] = []  # (label, score, start, end)
    if item.aggregation in (Aggregation.NONE, Aggregation.SIMPLE):
        for t, (start, end) in enumerate(item.offsets):
            best = int(probs[t].argmax())
            units.append((labels[best], float(probs[t, best]), start, end))
    else:
        by_word: dict[int, list[int]] = {}
        for t, word in enumerate(item.words):
            by_word.setdefault(word, []).append(t)
        for tokens in by_word.values():
            if item.aggregation is Aggregation.FIRST:
                scores = probs[tokens[0]]
            else:
                scores = probs[tokens].mean(axis=0)
            best = int(scores.argmax())
            units.append(
                (
                    labels[best],
                    float(scores[best]),
                    item.offsets[tokens[0]][0],
                    item.offsets[tokens[-1]][1],
                )
            )
    if item.aggregation is Aggregation.NONE:
        return _finish(
            [_Span(label, [score], s, e) for label, score, s, e in units if label != "O"], item
        )
    spans: list[_Span] = []
    for label, score, start, end in units:
        if label == "O":
            spans.append(_Span("O", [], start, end))
            continue
        kind, begins = _entity_type(label)
        last = spans[-1] if spans else None
        if last is not None and last.label == kind and not begins:
            last.scores.append(score)
            last.end = end
        else:
            spans.append(_Span(kind, [score], start, end))
    return _finish([s for s in spans if s.label != "O"], item)


def _finish(spans: list[_Span], item: TokenItem) -> list[Entity]:
    out = []
    for span in spans:
        score = float(np.mean(span.scores))
        if score >= item.min_score:
            out.append(
                Entity(span.label, score, item.text[span.start : span.end], span.start, span.end)
            )
    return out


class TokenClassifier(EntityTagger[TokenItem]):
    """`runtime: hf-token-classification` (options: `TokenClassificationOptions`)."""

    options: TokenClassificationOptions

    def load_weights(self) -> None:
        root = self.model_path()
        device, dtype = select_device(self.spec)
        tokenizer = AutoTokenizer.from_pretrained(root, local_files_only=True)
        if not tokenizer.is_fast:
            raise ConfigError("token classification needs a fast tokenizer (character offsets)")
        model = (
            AutoModelForTokenClassification.from_pretrained(
                root, local_files_only=True, dtype=dtype
            )
            .to(device)
            .eval()
        )
        config = model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        positions = getattr(config, "max_position_embeddings", None) or 512
        max_length = min(positions, tokenizer.model_max_length or positions)
        self.text = TextEncoder(tokenizer, max_length, self.options.max_padded_tokens)
        graph = text_graph(
            model,
            self.text,
            root,
            "logits",
            {0: "batch", 1: "sequence"},
            # each real token's label logits (padding left out)
            lambda logits, inputs: logits[inputs["attention_mask"].to(logits.device).bool()],
            "logits",
        )
        self.engine = load_engine(
            graph, EngineChoice.of(self.spec, device, dtype, self.cache_dir), self.name
        )

    def describe(self) -> dict[str, str]:
        return self.engine.describe()

    def prepare(
        self,
        texts: Sequence[str],
        aggregation: Aggregation,
        min_score: float,
        policy: Truncation = Truncation.END,
    ) -> list[TokenItem]:
        items = []
        for i, (text, window) in enumerate(
            zip(texts, self.text.encode_windows(texts, policy, offsets=True), strict=True)
        ):
            ids = truncate(window.ids, self.text.limit, policy, f"inputs[{i}]", cut=window.cut)
            n = len(ids)
            items.append(
                TokenItem(text, ids, window.offsets[:n], window.words[:n], aggregation, min_score)
            )
        return items

    def predict_batch(self, batch: Sequence[TokenItem]) -> list[list[Entity] | ModelportError]:
        out: list[list[Entity] | ModelportError] = [[] for _ in batch]
        start = len(self.text.prefix)
        wrapped = [self.text.wrap(item.ids) for item in batch]
        for group, ids, mask in self.text.padded_groups(wrapped):
            with torch.inference_mode():
                logits = self.engine.run({"input_ids": ids, "attention_mask": mask})
                probs = logits.float().softmax(-1).cpu().numpy()
            for row, i in enumerate(group):
                item = batch[i]
                out[i] = aggregate(item, probs[row, start : start + len(item.ids)], self.labels)
        return out
