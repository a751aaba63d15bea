"""Conversions between shared protobuf types and the inference services' plain types."""

from __future__ import annotations

from collections.abc import Sequence

from modelport.inference.explaining import Baseline, Method
from modelport.inference.text import Truncation
from modelport.serving.errors import InvalidArgument
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


_METHOD: dict[common_pb2.ExplainMethod.ValueType, Method | None] = {
    common_pb2.EXPLAIN_METHOD_UNSPECIFIED: None,
    common_pb2.EXPLAIN_METHOD_INTEGRATED_GRADIENTS: Method.INTEGRATED_GRADIENTS,
    common_pb2.EXPLAIN_METHOD_OCCLUSION: Method.OCCLUSION,
}
METHOD_TO_PROTO: dict[Method | None, common_pb2.ExplainMethod.ValueType] = {
    m: p for p, m in _METHOD.items()
}
_BASELINE: dict[common_pb2.Baseline.ValueType, Baseline | None] = {
    common_pb2.BASELINE_UNSPECIFIED: None,
    common_pb2.BASELINE_PAD: Baseline.PAD,
    common_pb2.BASELINE_ZERO: Baseline.ZERO,
    common_pb2.BASELINE_BLACK: Baseline.BLACK,
}
BASELINE_TO_PROTO: dict[Baseline | None, common_pb2.Baseline.ValueType] = {
    b: p for p, b in _BASELINE.items()
}


def method_from_proto(value: common_pb2.ExplainMethod.ValueType) -> Method | None:
    """None for the model's default; INVALID_ARGUMENT for an unknown number."""
    if value not in _METHOD:
        raise InvalidArgument("method", f"unknown ExplainMethod {value}")
    return _METHOD[value]


def baseline_from_proto(value: common_pb2.Baseline.ValueType) -> Baseline | None:
    """None for the default; INVALID_ARGUMENT for an unknown number."""
    if value not in _BASELINE:
        raise InvalidArgument("baseline", f"unknown Baseline {value}")
    return _BASELINE[value]


def label_scores(scores: Sequence[tuple[str, float]]) -> list[common_pb2.LabelScore]:
    return [common_pb2.LabelScore(label=label, score=score) for label, score in scores]
