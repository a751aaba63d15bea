"""What engines need to know about a Hugging Face transformers model."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from modelport.ml.engines import Forward, Graph, TransformerShape
from modelport.ml.engines.base import Rows
from modelport.ml.text import TextEncoder

log = logging.getLogger(__name__)

FUSABLE = {"bert": "bert", "roberta": "bert", "xlm-roberta": "bert"}
"""Model types whose graphs ONNX Runtime's `bert` fusions recognise (attention, embedding
layer norm, skip layer norm, bias GELU)."""

WEIGHT_PATTERNS = ("config.json", "*.safetensors", "*.bin")

SHIPPED_ONNX = ("onnx/model.onnx", "model.onnx")
"""Where model folders ship an ONNX file of the transformer (sentence-transformers' and
Optimum's layout first)."""


def weight_files(folder: Path) -> tuple[Path, ...]:
    """The files of a model folder that decide its outputs (config and weights)."""
    files = {p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file()}
    if not any(p.name != "config.json" for p in files):
        raise FileNotFoundError(f"no weight files (*.safetensors, *.bin) in {folder}")
    return tuple(sorted(files))


def shipped_onnx(folder: Path) -> Path | None:
    """The ONNX file `folder` ships, if any (`SHIPPED_ONNX`)."""
    return next((folder / name for name in SHIPPED_ONNX if (folder / name).is_file()), None)


def transformer_shape(config: Any) -> TransformerShape | None:
    """The fusion shape of a model config, where ONNX Runtime has fusions for its type."""
    model_type = FUSABLE.get(getattr(config, "model_type", ""))
    if model_type is None:
        return None
    return TransformerShape(model_type, int(config.num_attention_heads), int(config.hidden_size))


@contextmanager
def eager_attention(model: Any) -> Iterator[None]:
    """Trace the model with eager attention (the pattern the fusions match; SDPA exports
    as a graph they do not recognise), then restore its own implementation."""
    before = getattr(model.config, "_attn_implementation", None)
    try:
        model.set_attn_implementation("eager")
    except (AttributeError, ValueError) as exc:
        log.debug("cannot switch %s to eager attention: %s", type(model).__name__, exc)
        before = None
    try:
        yield
    finally:
        if before is not None:
            model.set_attn_implementation(before)


def text_graph(
    model: Any,
    text: TextEncoder,
    weights_dir: Path,
    output: str,
    output_axes: dict[int, str],
    rows: Rows,
    compare: Literal["vectors", "logits"],
) -> Graph:
    """The forward pass of a transformers text model (`input_ids`, `attention_mask` in,
    `output` out) as engines run it, probed with `text`'s probe batches."""
    axes = {0: "batch", 1: "sequence"}
    return Graph(
        module=Forward(model, ("input_ids", "attention_mask"), output),
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "output": output_axes},
        weights=weight_files(weights_dir),
        probe=text.probe_batches(),
        rows=rows,
        compare=compare,
        fusion=transformer_shape(model.config),
        export_mode=lambda: eager_attention(model),
        pad_values={"input_ids": text.pad_id},
        max_sequence=text.max_length,
        shipped=shipped_onnx(weights_dir),
    )
