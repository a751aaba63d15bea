"""Text-classification runtimes.

- `hf-sequence-classification`: AutoModelForSequenceClassification; softmax for
  single-label models, sigmoid when the config says `multi_label_classification`;
  label names from `id2label`.
- `label-prototypes`: no trained classifier needed. The model folder is a sentence
  embedding model; `options.labels` maps each label to a few example sentences. An input
  scores each label by its cosine similarity to the closest example of that label, and a
  softmax with `options.temperature` (default 0.05) turns similarities into scores.
- `spacy-textcat` (`modelport.nlp.spacy_pipeline`): a trained spaCy text classifier.

Their options are declared in `modelport.nlp.settings`.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from modelport.inference.explaining import Work
from modelport.inference.model import BatchedModel, ModelMetadata, TensorSpec
from modelport.inference.text import TextItem, Truncation
from modelport.ml.device import select_device
from modelport.ml.engines import EngineChoice, load_engine
from modelport.ml.hf import text_graph
from modelport.ml.sentence import SentenceEncoder, normalized, pool
from modelport.ml.text import TextEncoder
from modelport.serving.catalog import Task
from modelport.serving.errors import ModelportError

from .explain import EncoderExplainer, TextExplanation, TextQuestion
from .settings import PrototypeOptions, SequenceClassificationOptions

log = logging.getLogger(__name__)

Scores = list[tuple[str, float]]


Item = TypeVar("Item", bound=TextItem)


@dataclass(frozen=True)
class ClassifyItem:
    """One tokenised text and how many labels its caller wants (0 = all)."""

    ids: list[int]
    top_k: int

    @property
    def tokens(self) -> int:
        return len(self.ids)


def top(labels: Sequence[str], scores: np.ndarray, k: int) -> Scores:
    order = np.argsort(-scores, kind="stable")
    if k:
        order = order[:k]
    return [(labels[i], float(scores[i])) for i in order]


class TextClassifier(BatchedModel[Item, Scores]):
    """What the NLP handler needs of any classifier: its labels, and inputs prepared
    (off the loop) for its batcher, each answered with its `top_k` labels by score."""

    task = Task.TEXT_CLASSIFICATION
    labels: list[str]
    gradients: ClassVar[bool] = False
    """Whether `explain` can use integrated gradients (a torch model behind it)."""

    @abstractmethod
    def explain(self, question: TextQuestion) -> Work[TextExplanation]:
        """The explanation of one text, in pieces (on the model's worker thread)."""

    @abstractmethod
    def prepare(self, texts: Sequence[str], top_k: int, policy: Truncation) -> list[Item]:
        """The batcher's inputs for `texts` (runs on a preprocessing thread)."""

    def input_tokens(self, item: Item) -> int:
        return item.tokens

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("text", "BYTES", (-1,)),),
            outputs=(
                TensorSpec("label", "BYTES", (-1, -1)),
                TensorSpec("score", "FP32", (-1, -1)),
            ),
            properties={"labels": ",".join(self.labels)},
        )

    def warmup_batch(self) -> list[Item]:
        return self.prepare(["warm-up"], 1, Truncation.END)


class EncoderClassifier(EncoderExplainer, TextClassifier[ClassifyItem]):
    """A classifier that reads the token ids of a Hugging Face tokenizer; explained by
    integrated gradients on its torch model's word embeddings, or by occlusion."""

    gradients = True

    @abstractmethod
    def tokenize(self, texts: Sequence[str], policy: Truncation) -> list[list[int]]:
        """Token ids of each text, truncated as `policy` says."""

    def prepare(self, texts: Sequence[str], top_k: int, policy: Truncation) -> list[ClassifyItem]:
        return [ClassifyItem(ids, top_k) for ids in self.tokenize(texts, policy)]


class SequenceClassifier(EncoderClassifier):
    """`runtime: hf-sequence-classification` (options: `SequenceClassificationOptions`)."""

    options: SequenceClassificationOptions

    def load_weights(self) -> None:
        root = self.model_path()
        device, dtype = select_device(self.spec)
        tokenizer = AutoTokenizer.from_pretrained(root, local_files_only=True)
        model = (
            AutoModelForSequenceClassification.from_pretrained(
                root, local_files_only=True, dtype=dtype
            )
            .to(device)
            .eval()
        )
        config = model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.multi_label = config.problem_type == "multi_label_classification"
        positions = getattr(config, "max_position_embeddings", None) or 512
        max_length = min(positions, tokenizer.model_max_length or positions)
        self.text = TextEncoder(tokenizer, max_length, self.options.max_padded_tokens)
        self.model = model.requires_grad_(False)
        """The torch model, kept for explanations (integrated gradients) whatever engine
        serves: no extra memory on torch, a second copy of the weights on ONNX Runtime."""
        graph = text_graph(
            model, self.text, root, "logits", {0: "batch"}, lambda logits, _: logits, "logits"
        )
        self.engine = load_engine(
            graph, EngineChoice.of(self.spec, device, dtype, self.cache_dir), self.name
        )

    def metadata(self) -> ModelMetadata:
        base = super().metadata()
        properties = {**base.properties, **self.engine.describe()}
        return ModelMetadata(base.task, base.inputs, base.outputs, properties)

    def tokenize(self, texts: Sequence[str], policy: Truncation) -> list[list[int]]:
        return self.text.tokenize(texts, policy)

    @property
    def text_encoder(self) -> TextEncoder:
        return self.text

    def _scores(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.float().sigmoid() if self.multi_label else logits.float().softmax(-1)

    def probabilities(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._scores(self.engine.run({"input_ids": ids, "attention_mask": mask}))

    def word_embeddings(self) -> torch.nn.Module:
        layer: torch.nn.Module = self.model.get_input_embeddings()
        return layer

    def probabilities_from_embeddings(
        self, embeddings: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        dtype = next(self.model.parameters()).dtype
        out = self.model(inputs_embeds=embeddings.to(dtype), attention_mask=mask)
        return self._scores(out.logits)

    def predict_batch(self, batch: Sequence[ClassifyItem]) -> list[Scores | ModelportError]:
        out: list[Scores | ModelportError] = [[] for _ in batch]
        for group, ids, mask in self.text.padded_groups([item.ids for item in batch]):
            with torch.inference_mode():
                logits = self.engine.run({"input_ids": ids, "attention_mask": mask}).float()
                probs = logits.sigmoid() if self.multi_label else logits.softmax(-1)
            for row, i in enumerate(group):
                out[i] = top(self.labels, probs[row].cpu().numpy(), batch[i].top_k)
        return out

    async def unload(self) -> None:
        vars(self).pop("engine", None)  # absent when loading failed
        vars(self).pop("model", None)
        await super().unload()


class PrototypeClassifier(EncoderClassifier):
    """`runtime: label-prototypes` (options: `PrototypeOptions`)."""

    options: PrototypeOptions

    def load_weights(self) -> None:
        examples = self.options.labels
        device, dtype = select_device(self.spec)
        self.encoder = SentenceEncoder(
            self.model_path(),
            device,
            dtype,
            self.options.max_padded_tokens,
            EngineChoice.of(self.spec, device, dtype, self.cache_dir),
            keep_torch=True,
        )
        self.temperature = self.options.temperature
        self.labels = list(examples)
        owners: list[int] = []
        sentences_flat: list[str] = []
        for index, label in enumerate(self.labels):
            owners += [index] * len(examples[label])
            sentences_flat += examples[label]
        vectors = np.stack(self.encoder.encode(self.encoder.tokenize_texts(sentences_flat)))
        self._examples = normalized(vectors)
        self._owners = np.array(owners)
        self._example_rows = torch.from_numpy(self._examples).to(device)
        self._label_masks = [
            torch.from_numpy(self._owners == label).to(device) for label in range(len(self.labels))
        ]
        log.info(
            "label prototypes for %s: %d labels, %d examples",
            self.name,
            len(self.labels),
            len(owners),
        )

    def tokenize(self, texts: Sequence[str], policy: Truncation) -> list[list[int]]:
        return self.encoder.tokenize_texts(texts, policy)

    def metadata(self) -> ModelMetadata:
        base = super().metadata()
        properties = {**base.properties, **self.encoder.engine.describe()}
        return ModelMetadata(base.task, base.inputs, base.outputs, properties)

    @property
    def text_encoder(self) -> TextEncoder:
        return self.encoder.text

    def _label_scores(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """`predict_batch`'s scores in torch: pooled, unit-length vectors against the
        examples, each label's best example, softmax over the temperature."""
        vectors = pool(hidden.float(), mask.to(hidden.device), self.encoder.config.pooling)
        similarity = torch.nn.functional.normalize(vectors, dim=-1) @ self._example_rows.T
        best = torch.stack([similarity[:, m].max(dim=1).values for m in self._label_masks], 1)
        return (best / self.temperature).softmax(-1)

    def probabilities(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder.engine.run({"input_ids": ids, "attention_mask": mask})
        return self._label_scores(hidden, mask)

    def word_embeddings(self) -> torch.nn.Module:
        layer: torch.nn.Module = self.encoder.model.get_input_embeddings()
        return layer

    def probabilities_from_embeddings(
        self, embeddings: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        model = self.encoder.model
        dtype = next(model.parameters()).dtype
        out = model(inputs_embeds=embeddings.to(dtype), attention_mask=mask)
        return self._label_scores(out.last_hidden_state, mask)

    def predict_batch(self, batch: Sequence[ClassifyItem]) -> list[Scores | ModelportError]:
        vectors = normalized(np.stack(self.encoder.encode([item.ids for item in batch])))
        similarity = vectors @ self._examples.T  # [inputs, examples]
        best = np.full((len(batch), len(self.labels)), -np.inf, dtype=np.float32)
        for label in range(len(self.labels)):
            best[:, label] = similarity[:, self._owners == label].max(axis=1)
        logits = best / self.temperature
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return [top(self.labels, probs[i], item.top_k) for i, item in enumerate(batch)]

    async def unload(self) -> None:
        vars(self).pop("encoder", None)
        await super().unload()
