"""The model vocabulary every process shares (router and backends): tasks, lifecycle
states, version ordering, and their `modelport.v1` forms. Torch-free."""

from __future__ import annotations

import enum
import re

from modelport.serving.errors import FailedPrecondition
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
    OCR = "ocr"


class ModelState(enum.Enum):
    """Lifecycle state of a model in this process (mirrors `modelport.v1.ModelState`)."""

    LOADING = "LOADING"
    READY = "READY"
    FAILED = "FAILED"
    UNLOADING = "UNLOADING"
    NOT_LOADED = "NOT_LOADED"
    """In the catalogue (`load: on_demand`), never loaded here yet."""
    EVICTED = "EVICTED"
    """Was loaded, then evicted to make room; loads again on demand."""


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
    Task.OCR: common_pb2.TASK_OCR,
}

STATE_TO_PROTO: dict[ModelState, common_pb2.ModelState.ValueType] = {
    ModelState.LOADING: common_pb2.MODEL_STATE_LOADING,
    ModelState.READY: common_pb2.MODEL_STATE_READY,
    ModelState.FAILED: common_pb2.MODEL_STATE_FAILED,
    ModelState.UNLOADING: common_pb2.MODEL_STATE_UNLOADING,
    ModelState.NOT_LOADED: common_pb2.MODEL_STATE_NOT_LOADED,
    ModelState.EVICTED: common_pb2.MODEL_STATE_EVICTED,
}

PROTO_TO_TASK: dict[common_pb2.Task.ValueType, Task] = {v: k for k, v in TASK_TO_PROTO.items()}


_GENERATION = frozenset({Task.TEXT_GENERATION, Task.TEXT2TEXT_GENERATION})
RPC_TASKS: dict[str, frozenset[Task]] = {
    "modelport.v1.EmbeddingService/Embed": frozenset({Task.EMBEDDING}),
    "modelport.v1.EmbeddingService/EmbedStream": frozenset({Task.EMBEDDING}),
    "modelport.v1.NlpService/Classify": frozenset({Task.TEXT_CLASSIFICATION}),
    "modelport.v1.NlpService/ClassifyTokens": frozenset({Task.TOKEN_CLASSIFICATION}),
    "modelport.v1.NlpService/Generate": _GENERATION,
    "modelport.v1.NlpService/GenerateStream": _GENERATION,
    "modelport.v1.NlpService/Chat": _GENERATION,
    "modelport.v1.NlpService/ChatStream": _GENERATION,
    "modelport.v1.NlpService/Explain": frozenset({Task.TEXT_CLASSIFICATION}),
    "modelport.v1.VisionService/ClassifyImage": frozenset({Task.IMAGE_CLASSIFICATION}),
    "modelport.v1.VisionService/DetectObjects": frozenset({Task.OBJECT_DETECTION, Task.OCR}),
    "modelport.v1.VisionService/ReadText": frozenset({Task.OCR}),
    "modelport.v1.VisionService/Explain": frozenset({Task.IMAGE_CLASSIFICATION}),
}
"""The tasks each typed RPC serves (`service/method`, no leading slash). The Open Inference
Protocol serves every task."""


EXPLAIN = "/Explain"
"""Explain RPCs explain a task's calls: a wrong-RPC answer names the calls themselves."""


def wrong_rpc(name: str, task: Task, rpc: str) -> FailedPrecondition | None:
    """FAILED_PRECONDITION naming the task of model `name` and the RPCs that serve it, when
    `rpc` (`service/method`, a leading slash allowed) does not serve that task; None when it
    does, or when `rpc` is not a typed RPC."""
    rpc = rpc.lstrip("/")
    tasks = RPC_TASKS.get(rpc)
    if tasks is None or task in tasks:
        return None
    right = [r for r, served in RPC_TASKS.items() if task in served and not r.endswith(EXPLAIN)]
    service = right[0].split("/")[0] if right else ""
    methods = " or ".join(r.split("/")[1] for r in right)
    where = f"{service}/{methods}" if right else "ModelInfer (Open Inference Protocol)"
    served = " or ".join(sorted(t.value for t in tasks))
    article = "an" if task.value[0] in "aeiou" else "a"
    return FailedPrecondition(
        f"model {name!r} is {article} {task.value} model: call {where} "
        f"({rpc.removeprefix('modelport.v1.')} serves {served} models)"
    )
