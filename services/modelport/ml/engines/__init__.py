"""Engines: what runs a model's forward pass, picked by `ModelSpec.engine` and checked
against torch at load.

`load_engine` builds the torch engine (the reference) and, for `onnxruntime` and `auto`,
the ONNX Runtime engine; it serves ONNX Runtime only where its outputs on the graph's
probe batches agree with torch (`engine_options.min_cosine`), and int8 only where the
quality gate passes. Whatever it decides, and why, is in `Engine.describe()` (the
model's `ListModels` metadata) and the log.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from modelport.ml.engines.base import (
    Engine,
    EngineChoice,
    Forward,
    Graph,
    ShapeBuckets,
    TransformerShape,
    row_cosines,
)
from modelport.ml.engines.onnx_engine import EngineUnavailable, OnnxRuntimeEngine
from modelport.ml.engines.torch_engine import TorchEngine

__all__ = [
    "Engine",
    "EngineChoice",
    "Forward",
    "Graph",
    "OnnxRuntimeEngine",
    "ShapeBuckets",
    "TorchEngine",
    "TransformerShape",
    "load_engine",
]

log = logging.getLogger(__name__)


def load_engine(graph: Graph, choice: EngineChoice, name: str) -> Engine:
    """The engine `choice` asks for where it agrees with torch, else torch with a reason;
    with shape buckets configured, every bucket warmed."""
    engine = _select(graph, choice, name)
    options = choice.options
    if options.batch_buckets or options.sequence_buckets:
        buckets = ShapeBuckets(graph, options.batch_buckets, options.sequence_buckets)
        engine.use_buckets(buckets, graph.probe[0])
        log.info("%s: %s", name, engine.notes["engine_buckets"])
    return engine


def _select(graph: Graph, choice: EngineChoice, name: str) -> Engine:
    reference = TorchEngine.load(graph, choice)
    reference.notes["engine_requested"] = choice.kind
    if choice.kind == "torch":
        return reference
    try:
        candidate = OnnxRuntimeEngine.load(graph, choice)
    except EngineUnavailable as exc:
        return _fallback(reference, choice, name, str(exc))
    except Exception as exc:
        log.debug("ONNX export of %s failed", name, exc_info=True)
        return _fallback(
            reference, choice, name, f"ONNX export failed: {type(exc).__name__}: {exc}"
        )
    expected = _rows(reference, graph)
    try:
        got = _rows(candidate, graph)
        for want, have in zip(expected, got, strict=True):
            if want.shape != have.shape:
                raise ValueError(f"output shape {tuple(have.shape)}, torch's {tuple(want.shape)}")
    except Exception as exc:  # e.g. a graph that baked in the export example's shapes
        log.debug("ONNX Runtime failed on the probe batches of %s", name, exc_info=True)
        return _fallback(
            reference,
            choice,
            name,
            f"ONNX Runtime failed on the probe batches{_of(candidate)}: "
            f"{type(exc).__name__}: {exc}",
        )
    worst = float(np.min(_cosines(expected, got)))
    minimum = choice.options.min_cosine
    if not worst >= minimum:  # NaN (a broken graph) fails too
        return _fallback(
            reference,
            choice,
            name,
            f"ONNX Runtime{_of(candidate)} disagrees with torch on the probe batch: "
            f"worst cosine "
            f"{worst:.12g} < min_cosine {minimum}",
        )
    candidate.notes.update(
        {"engine_requested": choice.kind, "engine_probe_min_cosine": f"{worst:.12g}"}
    )
    log.info(
        "%s runs on ONNX Runtime (%s): worst probe cosine to torch %.12g",
        name,
        candidate.path,
        worst,
    )
    if choice.options.quantize == "int8":
        return _int8_gate(candidate, graph, choice, expected, name)
    return candidate


def _of(engine: OnnxRuntimeEngine) -> str:
    """Which graph a reason is about, where it is not Modelport's own export."""
    return "" if engine.source == "exported" else f" (the {engine.source} file)"


def _rows(engine: Engine, graph: Graph) -> list[torch.Tensor]:
    with torch.inference_mode():
        return [graph.rows(engine.run(batch), batch).float().cpu() for batch in graph.probe]


def _cosines(expected: list[torch.Tensor], got: list[torch.Tensor]) -> np.ndarray:
    return np.concatenate([row_cosines(e, g) for e, g in zip(expected, got, strict=True)])


def _fallback(reference: Engine, choice: EngineChoice, name: str, reason: str) -> Engine:
    level = logging.WARNING if choice.kind == "onnxruntime" else logging.INFO
    log.log(level, "%s serves with torch: %s", name, reason)
    reference.notes["engine_reason"] = reason
    return reference


def _int8_gate(
    fp32: OnnxRuntimeEngine,
    graph: Graph,
    choice: EngineChoice,
    expected: list[torch.Tensor],
    name: str,
) -> Engine:
    """The int8 engine where its probe rows agree with torch's as the options demand."""
    options = choice.options
    try:
        int8 = fp32.quantized(choice, graph)
    except Exception as exc:
        reason = f"int8 quantisation failed: {type(exc).__name__}: {exc}"
        log.warning("%s stays fp32: %s", name, reason)
        fp32.notes["engine_int8_reason"] = reason
        return fp32
    got = _rows(int8, graph)
    mean = float(np.mean(_cosines(expected, got)))
    reference, candidate = torch.cat(expected), torch.cat(got)
    if graph.compare == "logits":
        agreement = float((reference.argmax(1) == candidate.argmax(1)).float().mean())
        measure = "top-1 agreement"
    else:
        agreement = float((_nearest(reference) == _nearest(candidate)).float().mean())
        measure = "nearest-neighbour agreement"
    found = {
        "engine_int8_mean_cosine": f"{mean:.6f}",
        "engine_int8_agreement": f"{agreement:.4f} ({measure}, {len(reference)} probe rows)",
    }
    passed = mean >= options.int8_min_mean_cosine and agreement >= (
        options.int8_min_neighbour_agreement
    )
    if not passed:
        reason = (
            f"int8 failed its gate: mean cosine {mean:.6f} (min {options.int8_min_mean_cosine}),"
            f" {measure} {agreement:.4f} (min {options.int8_min_neighbour_agreement})"
        )
        log.warning("%s stays fp32: %s", name, reason)
        fp32.notes.update({**found, "engine_int8_reason": reason})
        return fp32
    log.info("%s runs int8: mean cosine %.6f, %s %.4f", name, mean, measure, agreement)
    int8.notes.update({**fp32.notes, **found})
    return int8


def _nearest(rows: torch.Tensor) -> torch.Tensor:
    """Index of each row's most similar other row (cosine)."""
    unit = torch.nn.functional.normalize(rows.double(), dim=1)
    similarity = unit @ unit.T
    similarity.fill_diagonal_(-torch.inf)
    return similarity.argmax(1)
