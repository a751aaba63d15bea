"""Text inputs as a request carries them: the truncation policy and validation."""

from __future__ import annotations

import enum

from modelport.serving.errors import InvalidArgument


class Truncation(enum.Enum):
    """What to do with inputs over the model's limit (mirrors `modelport.v1.Truncation`)."""

    NONE = "none"
    END = "end"
    START = "start"


def validate_texts(texts: list[str], field: str, max_inputs: int) -> None:
    """At least one text, at most `max_inputs`, none empty or only whitespace (nothing a
    model could use: it would score or embed the bare special tokens)."""
    if not texts:
        raise InvalidArgument(field, "must contain at least one text")
    if len(texts) > max_inputs:
        raise InvalidArgument(field, f"has {len(texts)} texts; at most {max_inputs} per call")
    for i, text in enumerate(texts):
        if not text:
            raise InvalidArgument(f"{field}[{i}]", "is empty")
        if text.isspace():
            raise InvalidArgument(f"{field}[{i}]", "is only whitespace")
