"""Explanations of text classifications: what a model is asked and what it answers, and
the attribution of models that read Hugging Face token ids (`EncoderExplainer`). No
protobuf here."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from modelport.inference.explaining import Baseline, Method, Work, target_index
from modelport.inference.text import Truncation
from modelport.ml.attribution import integrated_gradients, occlusion
from modelport.ml.text import TextEncoder, truncate

Scores = list[tuple[str, float]]
INPUT_FIELD = "input"


@dataclass(frozen=True)
class TextQuestion:
    """One text to explain, with the method and its parameters settled."""

    text: str
    target: str
    """Empty: the predicted label."""
    method: Method
    steps: int
    baseline: Baseline
    batch: int
    """Steps or occluded inputs per piece of work."""
    policy: Truncation


@dataclass(frozen=True)
class TokenScore:
    """One token the model read, where it is in the input, and its attribution."""

    token: str
    text: str
    start: int
    end: int
    word: int
    special: bool
    attribution: float


@dataclass(frozen=True)
class TextExplanation:
    prediction: Scores
    """Every label's score, best first."""
    target: str
    target_score: float
    method: Method
    tokens: list[TokenScore]
    delta: float | None
    """Integrated gradients' convergence delta."""
    steps: int
    baseline: Baseline | None
    """Integrated gradients' baseline (occlusion takes tokens out instead)."""
    passes: int

    @property
    def input_tokens(self) -> int:
        return len(self.tokens)


def ranked(labels: Sequence[str], probs: Sequence[float]) -> Scores:
    order = sorted(range(len(labels)), key=lambda i: -probs[i])
    return [(labels[i], float(probs[i])) for i in order]


class EncoderExplainer:
    """Explanations of a classifier that reads a Hugging Face tokenizer's ids: integrated
    gradients on the word embeddings of its torch model, and occlusion of one token at
    a time (taken out of attention) on the engine that serves it."""

    labels: list[str]

    @property
    @abstractmethod
    def text_encoder(self) -> TextEncoder:
        """The model's tokenizer with its limits."""

    @abstractmethod
    def probabilities(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Label scores `[batch, labels]` from the serving engine (inference mode)."""

    @abstractmethod
    def word_embeddings(self) -> torch.nn.Module:
        """The torch model's input embedding layer (ids → vectors)."""

    @abstractmethod
    def probabilities_from_embeddings(
        self, embeddings: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Label scores `[batch, labels]` from word embeddings, differentiable."""

    def explain(self, q: TextQuestion) -> Work[TextExplanation]:
        text = self.text_encoder
        window = text.encode_windows([q.text], q.policy, offsets=True)[0]
        kept = truncate(
            list(range(len(window.ids))), text.limit, q.policy, INPUT_FIELD, cut=window.cut
        )
        ids = text.wrap([window.ids[i] for i in kept])
        before, after = [None] * len(text.prefix), [None] * len(text.suffix)
        spans = [*before, *(window.offsets[i] for i in kept), *after]
        words = [-1] * len(text.prefix) + [window.words[i] for i in kept] + [-1] * len(after)
        special = [span is None for span in spans]
        row = torch.tensor([ids], dtype=torch.long)
        mask = torch.ones_like(row)
        with torch.inference_mode():
            probs = self.probabilities(row, mask)[0].float().cpu()
        target = target_index(self.labels, q.target, probs.tolist())
        yield
        delta: float | None = None
        if q.method is Method.INTEGRATED_GRADIENTS:
            layer = self.word_embeddings()
            device = next(layer.parameters()).device
            with torch.no_grad():
                x = layer(row.to(device))[0].float()
                if q.baseline is Baseline.PAD:
                    base_ids = [i if s else text.pad_id for i, s in zip(ids, special, strict=True)]
                    base = layer(torch.tensor([base_ids], device=device))[0].float()
                else:
                    keep = torch.tensor(special, device=device).unsqueeze(-1)
                    base = torch.where(keep, x, torch.zeros_like(x))
            on_device = mask.to(device)

            def score(points: torch.Tensor) -> torch.Tensor:
                rows = on_device.expand(len(points), -1)
                return self.probabilities_from_embeddings(points, rows)[:, target]

            found = yield from integrated_gradients(score, x, base, q.steps, q.batch)
            values = found.attributions.sum(-1).cpu().tolist()
            delta, passes = found.delta, found.passes
        else:
            positions = [i for i, s in enumerate(special) if not s]

            def scores(occluded: Sequence[int]) -> torch.Tensor:
                masks = mask.repeat(len(occluded), 1)
                for r, position in enumerate(occluded):
                    masks[r, position] = 0
                rows = row.expand(len(occluded), -1)
                return self.probabilities(rows, masks)[:, target]

            dropped = yield from occlusion(scores, positions, q.batch)
            values = [0.0] * len(ids)
            for position, value in zip(positions, dropped.tolist(), strict=True):
                values[position] = float(probs[target]) - value
            passes = len(positions) + 1
        pieces = text.tokenizer.convert_ids_to_tokens(ids)
        tokens = [
            TokenScore(
                str(piece),
                q.text[span[0] : span[1]] if span else "",
                span[0] if span else 0,
                span[1] if span else 0,
                word,
                span is None,
                float(value),
            )
            for piece, span, word, value in zip(pieces, spans, words, values, strict=True)
        ]
        return TextExplanation(
            ranked(self.labels, probs.tolist()),
            self.labels[target],
            float(probs[target]),
            q.method,
            tokens,
            delta,
            q.steps if q.method is Method.INTEGRATED_GRADIENTS else 0,
            q.baseline if q.method is Method.INTEGRATED_GRADIENTS else None,
            passes,
        )
