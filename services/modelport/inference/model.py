"""The one model base class. A runtime is a small subclass with pure ML code that says
which scheduler runs it: `BatchedModel` (the dynamic batcher) or, for generation, a
subclass whose `scheduler` is a decoding loop."""

from __future__ import annotations

import asyncio
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from opentelemetry import trace

from modelport.inference.batching import DynamicBatcher
from modelport.inference.memory import Measure, estimate_bytes
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.scheduling import Scheduler
from modelport.inference.settings import ModelSpec, RuntimeOptions
from modelport.serving.catalog import Task
from modelport.serving.errors import ModelportError

_LOAD_LOCK = threading.Lock()
"""Weights load one model at a time per process: transformers' `from_pretrained` patches
process-wide state while it builds a model, so two loads in threads corrupt each other.
Warm-up, batching and serving of loaded models go on concurrently."""

_LOADED: set[type[Any]] = set()
"""Model classes loaded at least once in this process (their libraries are imported)."""

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output as the Open Inference Protocol describes it."""

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelMetadata:
    """What a loaded model tells clients about itself."""

    task: Task
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)


class Model(ABC, Generic[In, Out]):
    """Base of every model runtime.

    `load` and `unload` are async; the default runs `load_weights` in a thread so loading
    never blocks the event loop (one load at a time per process, see `_LOAD_LOCK`).
    `scheduler` declares what runs the loaded model; the repository builds it after
    `load`, warms the model up through it (`warmup_batch`, unless `MODELPORT_WARMUP` is
    off) and closes it before `unload`. Model compute always runs on the scheduler's
    worker thread, so a runtime cannot block the loop by mistake.
    """

    task: ClassVar[Task]
    options: RuntimeOptions
    """The spec's typed options; a runtime narrows the type to its own options class."""

    def __init__(self, spec: ModelSpec, cache_dir: Path) -> None:
        self.spec = spec
        self.options = spec.options
        self.cache_dir = cache_dir
        """Where a model folder built on first use is kept (`ServerSettings.cache_dir`)."""
        self._preprocess_pool: ThreadPoolExecutor | None = None
        self.measured_bytes = 0
        """Memory the last load took, measured around it (see `modelport.inference.memory`);
        0 until loaded, and when the load could not be measured (the first load of a
        runtime without torch tensors, whose resident-set growth is mostly the libraries
        it imported): the estimate stands then."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    async def load(self) -> None:
        await asyncio.to_thread(self._load_locked)

    def _load_locked(self) -> None:
        with _LOAD_LOCK:
            measure = Measure(self.device_kind(), first=type(self) not in _LOADED)
            measure.start()
            self.load_weights()
            self.measured_bytes = measure.finish(self)
            _LOADED.add(type(self))

    def device_kind(self) -> str:
        """`cuda` or `cpu`: where the weights go, so which memory budget they count in."""
        if self.spec.device != "auto":
            return self.spec.device
        torch = sys.modules.get("torch")
        return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"

    def estimate_bytes(self) -> int:
        """Memory the model is expected to take before it loads: `spec.size_bytes` when
        set, else its weight files scaled to the dtype it loads in (a runtime whose
        memory is not in its folder overrides this)."""
        if self.spec.size_bytes is not None:
            return int(self.spec.size_bytes)
        dtype = self.spec.dtype
        if dtype == "auto":
            dtype = "float16" if self.device_kind() == "cuda" else "float32"
        folder = None
        if self.spec.path is not None or self.spec.package is not None:
            folder = self.model_path()
        return estimate_bytes(folder, dtype)

    def model_path(self) -> Path:
        """The local folder of the weights: `path`, or the folder `package` gives."""
        return self.spec.resolve_path(self.cache_dir)

    @abstractmethod
    def load_weights(self) -> None:
        """Read the weights from `model_path()` (runs in a worker thread)."""

    @abstractmethod
    def scheduler(self, metrics: InferenceMetrics, tracer: trace.Tracer | None) -> Scheduler[In]:
        """The scheduler that runs this (loaded) model, with its own worker thread."""

    def warmup_batch(self) -> Sequence[In]:
        """Representative work its scheduler runs once before the model reports READY."""
        return []

    @abstractmethod
    def metadata(self) -> ModelMetadata:
        """Task, tensors and properties of the loaded model."""

    async def preprocess(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run input preparation (tokenising, decoding) off the loop, beside compute.

        Uses the model's own pool of `spec.preprocess_threads` threads, so a slow decode
        never waits behind a batch and never blocks the event loop.
        """
        if self._preprocess_pool is None:
            self._preprocess_pool = ThreadPoolExecutor(
                self.spec.preprocess_threads, thread_name_prefix=f"pre-{self.name}"
            )
        return await asyncio.get_running_loop().run_in_executor(self._preprocess_pool, fn, *args)

    async def unload(self) -> None:
        """Release the preprocessing threads; subclasses drop their weights and call super."""
        if self._preprocess_pool is not None:
            self._preprocess_pool.shutdown(wait=False)
            self._preprocess_pool = None


class BatchedModel(Model[In, Out]):
    """A model run by a `DynamicBatcher` (`spec.batching`).

    `predict_batch` is deliberately synchronous: the batcher always calls it on the
    model's own worker thread. It returns one output per input, or a `ModelportError` in
    place of an output that failed alone.
    """

    @abstractmethod
    def predict_batch(self, batch: Sequence[In]) -> Sequence[Out | ModelportError]:
        """Run one batch (on the model's worker thread)."""

    def input_tokens(self, item: In) -> int:
        """Tokens of one prepared input, as the model pads them: what
        `batching.max_batch_tokens` counts. 0 (the default) for inputs without tokens
        (images), which the budget does not bound."""
        return 0

    def scheduler(
        self, metrics: InferenceMetrics, tracer: trace.Tracer | None
    ) -> DynamicBatcher[In, Out]:
        return DynamicBatcher(
            self.name,
            self.predict_batch,
            self.spec.batching,
            metrics,
            tracer=tracer,
            tokens=self.input_tokens,
        )
