"""The model vocabulary every process shares (router and backends): tasks, lifecycle
states, version ordering, and their `modelport.v1` forms. Torch-free."""

from __future__ import annotations

import enum
import re

from modelport.v1 import common_pb2


class Task(enum.Enum):
    """What a model does (mirrors `modelport.v1.Task`)."""

    EMBEDDING = "embedding"
    TEXT_CLASSIFICATION = "text-classification"
    TOKEN_CLASSIFICATION = "token-classification"
    TEXT_GENERATION = "text-generation"
    TEXT2TEXT_GENERATION = "text2text-generation"
    IMAGE_CLASSIFICATION = "image-classification"
    OBJECT_DETECTION = "object-detection"


class ModelState(enum.Enum):
    """Lifecycle state of a model in this process (mirrors `modelport.v1.ModelState`)."""

    LOADING = "LOADING"
    READY = "READY"
    FAILED = "FAILED"
    UNLOADING = "UNLOADING"


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: numeric parts compare as numbers ("10" > "9"), others as text."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-_]", version))


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

PROTO_TO_TASK: dict[common_pb2.Task.ValueType, Task] = {v: k for k, v in TASK_TO_PROTO.items()}
