"""Text inputs as a request carries them: the truncation policy and validation."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from modelport.serving.errors import InvalidArgument


class Truncation(enum.Enum):
    """What to do with inputs over the model's limit (mirrors `modelport.v1.Truncation`)."""

    NONE = "none"
    END = "end"
    START = "start"


class TextItem(Protocol):
    """One input a text runtime prepared for its scheduler."""

    @property
    def tokens(self) -> int:
        """Tokens the model reads of it (after truncation): what a call's usage counts."""
        ...


@dataclass(frozen=True)
class TextLimits:
    """What one call's texts may be (`max_inputs_per_request`, `max_input_bytes`)."""

    max_inputs: int = 1024
    max_input_bytes: int = 1024 * 1024


def validate_texts(texts: list[str], field: str, limits: TextLimits) -> None:
    """At least one text, at most `max_inputs`, none empty or whitespace only, none over
    `max_input_bytes` of UTF-8."""
    if not texts:
        raise InvalidArgument(field, "must contain at least one text")
    if len(texts) > limits.max_inputs:
        raise InvalidArgument(
            field, f"has {len(texts)} texts; at most {limits.max_inputs} per call"
        )
    for i, text in enumerate(texts):
        validate_text(text, f"{field}[{i}]", limits)


def validate_text(text: str, field: str, limits: TextLimits) -> None:
    """Not empty or whitespace only, not over `max_input_bytes` of UTF-8."""
    if not text:
        raise InvalidArgument(field, "is empty")
    if len(text) * 4 > limits.max_input_bytes:  # a code point is at most 4 bytes
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > limits.max_input_bytes:
            raise InvalidArgument(
                field, f"has {size} bytes; at most {limits.max_input_bytes} per input"
            )
    if text.isspace():
        raise InvalidArgument(field, "is only whitespace")
