"""Text encoding shared by the text models of every service: tokenise, truncate, the
special-token template, padding in length groups."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch

from modelport.inference.text import Truncation
from modelport.serving.errors import InvalidArgument


def truncate(ids: list[int], limit: int, policy: Truncation, field: str) -> list[int]:
    """Fit `ids` (without special tokens) into `limit` tokens as `policy` says."""
    if len(ids) <= limit:
        return ids
    if policy is Truncation.NONE:
        raise InvalidArgument(
            field, f"has {len(ids)} tokens; the model takes at most {limit} (truncation is off)"
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
        encoded = self.tokenizer(
            list(texts), add_special_tokens=False, truncation=False, verbose=False
        )["input_ids"]
        return [
            self.wrap(truncate(ids, self.limit, policy, f"{field}[{i}]"))
            for i, ids in enumerate(encoded)
        ]

    def padded_groups(
        self, batch: Sequence[Sequence[int]]
    ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """(indices into `batch`, input ids, attention mask) per length group, right-padded."""
        for group in length_groups([len(ids) for ids in batch], self.max_padded_tokens):
            width = max(len(batch[i]) for i in group)
            ids = torch.full((len(group), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for row, i in enumerate(group):
                n = len(batch[i])
                ids[row, :n] = torch.tensor(batch[i], dtype=torch.long)
                mask[row, :n] = 1
            yield group, ids, mask
