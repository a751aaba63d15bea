"""Text encoding shared by the text models of every service: tokenise, truncate, the
special-token template, padding in length groups."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from modelport.inference.text import Truncation
from modelport.serving.errors import InvalidArgument

CHARS_PER_TOKEN = 8
"""First window of characters per token the model reads (English averages about 4)."""
WINDOW_MARGIN_TOKENS = 16
"""Tokens a window must yield beyond the limit, so the word cut at its edge lies past the
tokens kept."""
MAX_CHARS_PER_TOKEN = 512
"""The window stops widening at this many characters per token the model reads: a text
that long with so few tokens (one huge unknown word) is cut there, not tokenised whole."""

PROBE_TEXTS = (
    "The cat sat on the warm mat by the door.",
    "A cat was sitting on the mat near the door.",
    "Interest rates rose again this quarter.",
    "The central bank raised rates once more.",
    "Kubernetes schedules pods onto nodes.",
    "Pods are placed on nodes by the Kubernetes scheduler.",
    "I love this phone, the battery lasts for days!",
    "This phone is terrible and the battery dies by noon.",
    "How do I reset my password?",
    "What are the steps to change a forgotten password?",
    "Heavy rain is expected over the weekend.",
    "The forecast says it will pour on Saturday and Sunday.",
    "Le chat dort sur le canapé.",
    "Der Zug nach Berlin hat Verspätung.",
    "ok",
    "🙂 emoji, numbers 3.14159 and CAPITALS",
)
"""Texts every text engine must agree on at load: pairs of paraphrases (so the nearest
neighbour of each has a right answer), other languages, a one-word text, symbols."""
LONG_PROBE = "serving models over many cores with dynamic batching and shape buckets " * 64
"""Longer than any model reads: checks positions up to the model's maximum length."""


def window_of(text: str, window: int, policy: Truncation) -> str:
    """The part of `text` tokenised first: its start, or its end for START."""
    if len(text) <= window:
        return text
    return text[len(text) - window :] if policy is Truncation.START else text[:window]


def truncate(
    ids: list[int], limit: int, policy: Truncation, field: str, *, cut: bool = False
) -> list[int]:
    """Fit `ids` (without special tokens) into `limit` tokens as `policy` says; `cut`: the
    ids come from a window of a longer text (so their count is a lower bound)."""
    if policy is Truncation.NONE and cut and len(ids) <= limit:
        raise InvalidArgument(
            field,
            f"is longer than the model reads (more than {limit * MAX_CHARS_PER_TOKEN} "
            "characters; truncation is off)",
        )
    if len(ids) <= limit:
        return ids
    if policy is Truncation.NONE:
        count = f"more than {len(ids)}" if cut else str(len(ids))
        raise InvalidArgument(
            field, f"has {count} tokens; the model takes at most {limit} (truncation is off)"
        )
    return ids[:limit] if policy is Truncation.END else ids[len(ids) - limit :]


def length_groups(lengths: Sequence[int], max_padded_tokens: int) -> list[list[int]]:
    """Indices grouped by similar length so each padded group holds ≤ `max_padded_tokens` tokens.

    Sorting by length before padding cuts the work spent on padding when short and long
    texts share a batch; a group always holds at least one index.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and lengths[i] * (len(current) + 1) > max_padded_tokens:
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids a Hugging Face tokenizer puts before and after a single sequence.

    Found by encoding a probe with and without special tokens, so truncation can work on
    the plain ids and the template ([CLS] … [SEP], <s> … </s>, BOS …) is added back after.
    """
    probe = "modelport"
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return list(full[:start]), list(full[start + len(plain) :])
    raise ValueError("cannot locate the text inside the tokenizer's special-token template")


@dataclass(frozen=True)
class Window:
    """The tokens of the part of one text that can matter (see `encode_windows`)."""

    ids: list[int]
    cut: bool
    """The text goes on past the tokens here (so their count is a lower bound)."""
    offsets: list[tuple[int, int]]
    """Character offsets of each token in the whole text (when asked for)."""
    words: list[int]
    """Word index of each token, -1 for none (when asked for)."""


class TextEncoder:
    """A Hugging Face tokenizer with its model's limits, shared by every text model.

    Texts are tokenised without special tokens, truncated as the caller's policy says, and
    wrapped in the tokenizer's own template ([CLS] … [SEP], <s> … </s>, BOS …) again, so
    truncation never cuts the template. Batches are padded in groups of similar length
    under a padded-token budget.
    """

    def __init__(self, tokenizer: Any, max_length: int, max_padded_tokens: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.max_padded_tokens = max_padded_tokens
        self.prefix, self.suffix = special_tokens(tokenizer)
        self.limit = max_length - len(self.prefix) - len(self.suffix)
        """Most tokens of text, the template aside."""
        self.pad_id = int(tokenizer.pad_token_id or 0)

    def wrap(self, ids: Sequence[int]) -> list[int]:
        """Plain ids with the template around them."""
        return [*self.prefix, *ids, *self.suffix]

    def tokenize(
        self, texts: Sequence[str], policy: Truncation, field: str = "inputs"
    ) -> list[list[int]]:
        """Token ids with the template, each text truncated as `policy` says."""
        return [
            self.wrap(truncate(w.ids, self.limit, policy, f"{field}[{i}]", cut=w.cut))
            for i, w in enumerate(self.encode_windows(texts, policy))
        ]

    def encode_windows(
        self, texts: Sequence[str], policy: Truncation, *, offsets: bool = False
    ) -> list[Window]:
        """Plain token ids of the part of each text that can matter.

        A model reads at most `limit` tokens, so a huge text is never tokenised whole (one
        16 MiB input used to hold every other caller of the model for seconds): each text
        is tokenised from a window of characters at the end the policy keeps (the start
        for END and NONE, the end for START), widened until it yields more than
        `limit + WINDOW_MARGIN_TOKENS` tokens or holds the whole text (or reaches
        `MAX_CHARS_PER_TOKEN` characters per token read). Only the word at
        the window's edge can tokenise differently from the whole text, and it lies past
        the tokens kept, so the ids kept are those of the whole text. With NONE a cut
        text is known to be too long. `offsets` adds character offsets (into the whole
        text) and word indices; it needs a fast tokenizer.
        """
        windows: list[Window | None] = [None] * len(texts)
        todo = list(range(len(texts)))
        size = (self.limit + WINDOW_MARGIN_TOKENS) * CHARS_PER_TOKEN
        while todo:
            pieces = [window_of(texts[i], size, policy) for i in todo]
            encoded = self.tokenizer(
                pieces,
                add_special_tokens=False,
                truncation=False,
                verbose=False,
                return_offsets_mapping=offsets,
            )
            short = []
            for row, i in enumerate(todo):
                ids = list(encoded["input_ids"][row])
                start = len(texts[i]) - len(pieces[row]) if policy is Truncation.START else 0
                cut = len(pieces[row]) < len(texts[i])
                if (
                    cut
                    and len(ids) <= self.limit + WINDOW_MARGIN_TOKENS
                    and size < self.limit * MAX_CHARS_PER_TOKEN
                ):
                    short.append(i)
                    continue
                windows[i] = Window(
                    ids,
                    cut,
                    [(start + a, start + b) for a, b in encoded["offset_mapping"][row]]
                    if offsets
                    else [],
                    [-1 if w is None else w for w in encoded.word_ids(row)] if offsets else [],
                )
            todo, size = short, size * 4
        return [w for w in windows if w is not None]

    def padded(self, batch: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Input ids and attention mask of `batch`, right-padded to its longest row."""
        width = max(len(ids) for ids in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        return ids, mask

    def probe_batches(self) -> tuple[dict[str, torch.Tensor], ...]:
        """Batches an engine is checked on at load: `PROBE_TEXTS` padded together, one
        text at the model's maximum length beside a short one, and a lone text."""
        texts = self.tokenize(PROBE_TEXTS, Truncation.END)
        long_text = self.tokenize([LONG_PROBE], Truncation.END)[0]
        batches = (texts, [texts[0], long_text], [texts[2]])
        return tuple(
            dict(zip(("input_ids", "attention_mask"), self.padded(b), strict=True)) for b in batches
        )

    def padded_groups(
        self, batch: Sequence[Sequence[int]]
    ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """(indices into `batch`, input ids, attention mask) per length group, right-padded."""
        for group in length_groups([len(ids) for ids in batch], self.max_padded_tokens):
            ids, mask = self.padded([batch[i] for i in group])
            yield group, ids, mask
