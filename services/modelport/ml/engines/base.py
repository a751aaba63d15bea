"""The engine interface: what runs one model's forward pass.

A runtime describes its forward pass once as a `Graph` (named input tensors in, one
tensor out, plus a probe batch and what to compare); an engine loads it, runs batches of
it and describes itself for `ListModels`. Everything around the forward pass (tokenising,
pooling, normalising, softmax, label names) stays in the runtime, the same for every
engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch

from modelport.inference.settings import EngineOptions, ModelSpec

Inputs = Mapping[str, torch.Tensor]
Rows = Callable[[torch.Tensor, Inputs], torch.Tensor]


class Forward(torch.nn.Module):
    """`model(**inputs).<output>` taking the inputs positionally, as exporters trace it."""

    def __init__(self, model: torch.nn.Module, inputs: Sequence[str], output: str | None) -> None:
        super().__init__()
        self.model = model
        self.input_names = tuple(inputs)
        self.output_name = output
        # A new module is in training mode; exporters restore that mode after tracing,
        # which would switch the wrapped model's dropout on.
        self.train(model.training)

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        if self.output_name is None:
            result: torch.Tensor = self.model(*args)
            return result
        out = self.model(**dict(zip(self.input_names, args, strict=True)))
        tensor: torch.Tensor = getattr(out, self.output_name)
        return tensor


@dataclass(frozen=True)
class TransformerShape:
    """What ONNX Runtime's transformer fusions (attention, embedding layer norm) need."""

    model_type: str
    """`onnxruntime.transformers` model type, e.g. `bert` (BERT, MiniLM, RoBERTa)."""
    num_heads: int
    hidden_size: int


@dataclass
class Graph:
    """A model's forward pass as engines see it."""

    module: Forward
    """The torch model, on its device, in eval mode."""
    dynamic_axes: dict[str, dict[int, str]]
    """Axes of each input and of `output` whose size varies, e.g. `{0: "batch"}`."""
    weights: tuple[Path, ...]
    """Files whose bytes decide the outputs (their hash keys the exported graph)."""
    probe: tuple[dict[str, torch.Tensor], ...]
    """Input batches (CPU) the engines must agree on at load; the first is the export
    example, so it should be padded (mixed lengths) and have more than one row."""
    rows: Rows
    """What is compared per input: the rows the runtime reads from the output (pooled
    vectors, logits), `[inputs, features]`."""
    compare: Literal["vectors", "logits"] = "vectors"
    """Quantisation gate: nearest-neighbour agreement for vectors, top-1 for logits."""
    fusion: TransformerShape | None = None
    """Apply ONNX Runtime's transformer fusions to the exported graph."""
    export_mode: Callable[[], AbstractContextManager[object]] = nullcontext
    """Entered around the export (e.g. eager attention, which the fusions recognise)."""
    pad_values: dict[str, int] = field(default_factory=dict)
    """Value that pads each input along its dynamic axes (shape buckets); default 0."""

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.module.input_names


@dataclass(frozen=True)
class EngineChoice:
    """What the model config asks of its engine, and where it may run and cache."""

    kind: Literal["auto", "torch", "onnxruntime"]
    options: EngineOptions
    cache_dir: Path
    device: torch.device
    dtype: torch.dtype

    @classmethod
    def of(
        cls, spec: ModelSpec, device: torch.device, dtype: torch.dtype, cache_dir: Path
    ) -> EngineChoice:
        return cls(spec.engine, spec.engine_options, cache_dir, device, dtype)

    @classmethod
    def eager(cls, device: torch.device, dtype: torch.dtype) -> EngineChoice:
        """Plain torch (nothing cached)."""
        return cls("torch", EngineOptions(), Path(), device, dtype)


class Engine(ABC):
    """Runs batches of one `Graph`. `run` is called from one compute thread at a time."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}
        """What selection found (why this engine, the measured agreement)."""

    @classmethod
    @abstractmethod
    def load(cls, graph: Graph, choice: EngineChoice) -> Engine:
        """Build the engine for `graph` (in the model's load thread)."""

    @abstractmethod
    def run(self, inputs: Inputs) -> torch.Tensor:
        """The graph's output for one batch (CPU or the model's device)."""

    @abstractmethod
    def details(self) -> dict[str, str]:
        """Engine-specific properties (threads, provider, precision)."""

    def describe(self) -> dict[str, str]:
        """Properties for `ListModels` metadata: `engine` and what selection found."""
        return {"engine": self.kind, **self.details(), **self.notes}


def row_cosines(reference: torch.Tensor, candidate: torch.Tensor) -> np.ndarray:
    """Cosine similarity of each row pair, in float64."""
    a = reference.detach().double().cpu().numpy()
    b = candidate.detach().double().cpu().numpy()
    dot = (a * b).sum(axis=1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    # Two zero rows agree; a zero row against a non-zero one does not.
    zero = norms == 0
    out: np.ndarray = np.where(zero, 1.0, dot / np.where(zero, 1.0, norms))
    out[zero & ((a != 0).any(axis=1) | (b != 0).any(axis=1))] = 0.0
    return out
