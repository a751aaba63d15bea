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
from modelport.serving.errors import ConfigError

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
    """Files whose bytes decide the outputs (their hash keys the exported graph); empty
    for a model built in code: then its class and state are hashed."""
    probe: tuple[dict[str, torch.Tensor], ...]
    """Input batches (CPU) the engines must agree on at load. The first is the export
    example, so it should be padded (mixed lengths) and have more than one row; the
    others should differ from it in shape and values, so a graph that baked in the
    example's shapes or values (a traced Python branch) fails the check."""
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
    """Value that pads each input along its `sequence` axis (shape buckets); default 0."""
    max_sequence: int | None = None
    """Longest `sequence` axis the model takes (shape buckets stay within it)."""
    shipped: Path | None = None
    """An ONNX file of this forward pass that the model folder ships: served as it is
    instead of an export (and checked against torch at load like one)."""

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


class ShapeBuckets:
    """Batches padded up to a few sizes, so an engine meets few distinct shapes.

    Along axes a graph labels `batch`, the first row is repeated; along `sequence` axes,
    the input's pad value (attention masks pad with 0, so padded positions change
    nothing). The output is cut back to the batch's own rows and width.
    """

    def __init__(self, graph: Graph, batch: Sequence[int], sequence: Sequence[int]) -> None:
        if sequence and graph.max_sequence is not None and sequence[-1] > graph.max_sequence:
            raise ConfigError(
                f"engine_options.sequence_buckets: {sequence[-1]} is longer than the "
                f"{graph.max_sequence} tokens the model takes"
            )
        self.axes = graph.dynamic_axes
        self.pad_values = graph.pad_values
        self.batch = list(batch)
        self.sequence = list(sequence)

    @staticmethod
    def up(size: int, buckets: Sequence[int]) -> int:
        """The smallest bucket that holds `size` (`size` itself past the last one)."""
        return next((b for b in buckets if b >= size), size)

    def _sizes(self, inputs: Inputs) -> tuple[int, int]:
        name = next(iter(self.axes.keys() & inputs.keys()))
        sizes = {label: inputs[name].shape[axis] for axis, label in self.axes[name].items()}
        return sizes.get("batch", 0), sizes.get("sequence", 0)

    def _resize(self, inputs: Inputs, rows: int, width: int) -> dict[str, torch.Tensor]:
        out = {}
        for name, tensor in inputs.items():
            for axis, label in self.axes.get(name, {}).items():
                have = tensor.shape[axis]
                if label == "batch" and rows != have:
                    if rows < have:
                        tensor = tensor.narrow(axis, 0, rows)
                    else:
                        extra = tensor.narrow(axis, 0, 1).repeat_interleave(rows - have, axis)
                        tensor = torch.cat([tensor, extra], axis)
                elif label == "sequence" and width != have:
                    if width < have:
                        tensor = tensor.narrow(axis, 0, width)
                    else:
                        shape = list(tensor.shape)
                        shape[axis] = width - have
                        pad = torch.full(shape, self.pad_values.get(name, 0), dtype=tensor.dtype)
                        tensor = torch.cat([tensor, pad], axis)
            out[name] = tensor
        return out

    def pad(self, inputs: Inputs) -> tuple[dict[str, torch.Tensor], int, int]:
        """`inputs` padded up to their buckets, with their own batch size and width."""
        rows, width = self._sizes(inputs)
        target = (self.up(rows, self.batch), self.up(width, self.sequence))
        return self._resize(inputs, *target), rows, width

    def cut(self, output: torch.Tensor, rows: int, width: int) -> torch.Tensor:
        for axis, label in self.axes.get("output", {}).items():
            if label == "batch":
                output = output.narrow(axis, 0, rows)
            elif label == "sequence":
                output = output.narrow(axis, 0, width)
        return output

    def shapes(self, example: Inputs) -> list[tuple[int, int]]:
        """Every (batch, sequence) bucket pair; the example's own size where none is set."""
        rows, width = self._sizes(example)
        return [(b, s) for b in self.batch or [rows] for s in self.sequence or [width]]

    def warm_inputs(self, example: Inputs, rows: int, width: int) -> dict[str, torch.Tensor]:
        """The example's first row, resized to `rows` by `width`."""
        first = self._resize(example, 1, self._sizes(example)[1])
        return self._resize(first, rows, width)


class Engine(ABC):
    """Runs batches of one `Graph`. `run` is called from one compute thread at a time."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}
        """What selection found (why this engine, the measured agreement)."""
        self.buckets: ShapeBuckets | None = None

    @classmethod
    @abstractmethod
    def load(cls, graph: Graph, choice: EngineChoice) -> Engine:
        """Build the engine for `graph` (in the model's load thread)."""

    @abstractmethod
    def forward(self, inputs: Inputs) -> torch.Tensor:
        """The graph's output for `inputs` as they are (CPU or the model's device)."""

    def run(self, inputs: Inputs) -> torch.Tensor:
        """The graph's output for one batch, padded to its shape buckets if any."""
        if self.buckets is None:
            return self.forward(inputs)
        padded, rows, width = self.buckets.pad(inputs)
        return self.buckets.cut(self.forward(padded), rows, width)

    def use_buckets(self, buckets: ShapeBuckets, example: Inputs) -> None:
        """Pad every later batch to `buckets`; run each bucket shape once now (load)."""
        shapes = buckets.shapes(example)
        with torch.inference_mode():
            for rows, width in shapes:
                self.forward(buckets.warm_inputs(example, rows, width))
        self.buckets = buckets
        self.notes["engine_buckets"] = (
            f"batch {','.join(map(str, buckets.batch)) or 'as is'} x sequence "
            f"{','.join(map(str, buckets.sequence)) or 'as is'}; "
            f"{len(shapes)} shapes warmed at load"
        )

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
