"""Conversions between shared protobuf types and the inference services' plain types."""

from __future__ import annotations

from collections.abc import Sequence

from modelport.inference.text import Truncation
from modelport.v1 import common_pb2

_TRUNCATION: dict[common_pb2.Truncation.ValueType, Truncation] = {
    common_pb2.TRUNCATION_UNSPECIFIED: Truncation.END,
    common_pb2.TRUNCATION_END: Truncation.END,
    common_pb2.TRUNCATION_START: Truncation.START,
    common_pb2.TRUNCATION_NONE: Truncation.NONE,
}


def truncation_from_proto(value: common_pb2.Truncation.ValueType) -> Truncation:
    """Unknown enum numbers (from newer clients) fall back to the default."""
    return _TRUNCATION.get(value, Truncation.END)


def model_ref(name: str, version: str) -> common_pb2.ModelRef:
    return common_pb2.ModelRef(name=name, version=version)


def usage(input_tokens: int, output_tokens: int = 0) -> common_pb2.Usage:
    return common_pb2.Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


def classifications(
    results: Sequence[Sequence[tuple[str, float]]],
) -> list[common_pb2.Classification]:
    """Ranked (label, score) lists as `Classification` messages."""
    return [
        common_pb2.Classification(
            labels=[common_pb2.LabelScore(label=label, score=score) for label, score in scores]
        )
        for scores in results
    ]
