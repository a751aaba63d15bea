"""Conversions between shared protobuf types and the runtime's plain Python types."""

from __future__ import annotations

from collections.abc import Sequence

from modelport.runtime.model import Task
from modelport.runtime.repository import ModelState
from modelport.runtime.text import Truncation
from modelport.v1 import common_pb2

TASK_TO_PROTO: dict[Task, common_pb2.Task.ValueType] = {
    Task.EMBEDDING: common_pb2.TASK_EMBEDDING,
    Task.TEXT_CLASSIFICATION: common_pb2.TASK_TEXT_CLASSIFICATION,
    Task.TOKEN_CLASSIFICATION: common_pb2.TASK_TOKEN_CLASSIFICATION,
    Task.TEXT_GENERATION: common_pb2.TASK_TEXT_GENERATION,
    Task.TEXT2TEXT_GENERATION: common_pb2.TASK_TEXT2TEXT_GENERATION,
    Task.IMAGE_CLASSIFICATION: common_pb2.TASK_IMAGE_CLASSIFICATION,
    Task.OBJECT_DETECTION: common_pb2.TASK_OBJECT_DETECTION,
}

STATE_TO_PROTO: dict[ModelState, common_pb2.ModelState.ValueType] = {
    ModelState.LOADING: common_pb2.MODEL_STATE_LOADING,
    ModelState.READY: common_pb2.MODEL_STATE_READY,
    ModelState.FAILED: common_pb2.MODEL_STATE_FAILED,
    ModelState.UNLOADING: common_pb2.MODEL_STATE_UNLOADING,
}

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
