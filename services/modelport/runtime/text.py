"""Text helpers shared by text models: truncation policy and length grouping."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from modelport.runtime.errors import InvalidArgument


class Truncation(enum.Enum):
    """What to do with inputs over the model's limit (mirrors `modelport.v1.Truncation`)."""

    NONE = "none"
    END = "end"
    START = "start"


def truncate(ids: list[int], limit: int, policy: Truncation, field: str) -> list[int]:
    """Fit `ids` (without special tokens) into `limit` tokens as `policy` says."""
    if len(ids) <= limit:
        return ids
    if policy is Truncation.NONE:
        raise InvalidArgument(
            field, f"has {len(ids)} tokens; the model takes at most {limit} (truncation is off)"
        )
    return ids[:limit] if policy is Truncation.END else ids[len(ids) - limit :]


def length_groups(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Indices grouped by similar length so each padded group holds ≤ `max_tokens` tokens.

    Sorting by length before padding cuts the work spent on padding when short and long
    texts share a batch; a group always holds at least one index.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and lengths[i] * (len(current) + 1) > max_tokens:
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


def validate_texts(texts: list[str], field: str, max_inputs: int) -> None:
    """At least one text, at most `max_inputs`, none empty."""
    if not texts:
        raise InvalidArgument(field, "must contain at least one text")
    if len(texts) > max_inputs:
        raise InvalidArgument(field, f"has {len(texts)} texts; at most {max_inputs} per call")
    for i, text in enumerate(texts):
        if not text:
            raise InvalidArgument(f"{field}[{i}]", "is empty")
