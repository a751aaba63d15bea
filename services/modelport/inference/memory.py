"""How much memory a model takes: estimated from its files before it loads, measured after.

The estimate (`estimate_bytes`) is the size of the weight files in the model folder,
scaled from the dtype they are stored in (`config.json`'s `torch_dtype`, float32 when it
does not say) to the dtype the model loads in, times `OVERHEAD` for what loading adds
(tokenizer, buffers, the engine's own copy). It is conservative by design, like
ModelMesh's `predictModelSize`: a load is admitted against it.

The measurement (`Measure`) runs around the weight load, which holds the process-wide load
lock (one load at a time), so no other load moves the numbers meanwhile. For a model
that holds torch weights it is the bytes of every torch parameter and buffer the model
object reaches (exact, and unlike the growth of the resident set it neither charges the
first model with the libraries its load imported nor misses memory the allocator reused
from an evicted model); for a CUDA model, the larger of that and the growth of
`torch.cuda.memory_allocated`. For a model without torch tensors (spaCy, ONNX Runtime
sessions, RapidOCR) it is the growth of the process's resident set (`/proc/self/statm`)
across the load, except for the first load of its runtime in the process, which mostly
imports libraries: that one keeps its estimate.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OVERHEAD = 1.2
"""What loading adds to the weights, as a factor of their bytes (the estimate only)."""
MIN_ESTIMATE = 1 << 20
"""The least a model is estimated at (a model without weight files: spaCy, OCR)."""
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".gguf", ".ckpt", ".h5")
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


def weight_files(folder: Path) -> Iterator[Path]:
    """Weight files under `folder` (ONNX exports cached elsewhere are not counted)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name.endswith(WEIGHT_SUFFIXES):
            yield path


def stored_dtype(folder: Path) -> str:
    """The dtype the folder's weights are stored in (`config.json`), float32 when unsaid."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return "float32"
    dtype = config.get("torch_dtype") or config.get("dtype") if isinstance(config, dict) else None
    return dtype if isinstance(dtype, str) and dtype in DTYPE_BYTES else "float32"


def estimate_bytes(folder: Path | None, dtype: str) -> int:
    """Memory a model loaded from `folder` in `dtype` (`float32`, `float16`, ...) is
    expected to take: its weight files scaled to `dtype`, times `OVERHEAD`."""
    if folder is None or not folder.is_dir():
        return MIN_ESTIMATE
    files = sum(p.stat().st_size for p in weight_files(folder))
    scale = DTYPE_BYTES.get(dtype, 4) / DTYPE_BYTES[stored_dtype(folder)]
    return max(MIN_ESTIMATE, int(files * scale * OVERHEAD))


def release_freed_memory() -> None:
    """Give memory the allocator holds but nothing uses back to the system (glibc's
    `malloc_trim`, which returns free pages of every arena; a no-op elsewhere). Without it
    the weights of an evicted model, freed on a worker thread's arena, stay resident and
    the next model's are allocated beside them."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None
"""glibc's `malloc_trim` once looked up (False where there is none)."""


def rss_bytes() -> int:
    """This process's resident set size (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def tensor_bytes(root: Any, device: str = "") -> int:
    """Bytes of the torch parameters and buffers of every `torch.nn.Module` reachable from
    `root`'s attributes (two levels deep; each tensor counted once); only those on
    `device` (`cpu`, `cuda`) when it is given. 0 when torch is not imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return 0
    modules: list[Any] = []
    seen: set[int] = set()

    def visit(value: Any, depth: int) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, torch.nn.Module):
            modules.append(value)
            return
        if depth == 0:
            return
        children: list[Any] = []
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list | tuple):
            children = list(value)
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            children = list(vars(value).values())
        for child in children:
            visit(child, depth - 1)

    visit(root, 3)
    counted: set[int] = set()
    total = 0
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            key = tensor.data_ptr()
            if key in counted or (device and tensor.device.type != device):
                continue
            counted.add(key)
            total += tensor.numel() * tensor.element_size()
    return total


def cuda_allocated() -> int:
    """`torch.cuda.memory_allocated()` of the current GPU (0 without CUDA)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return 0
    return int(torch.cuda.memory_allocated())


@dataclass
class Measure:
    """Memory a load added, measured around it (see the module docstring). `first`: the
    first load of its runtime in this process, whose resident-set growth is mostly the
    libraries it imported; without torch tensors to count it is not measured (0)."""

    device: str
    first: bool = False
    rss_before: int = 0
    cuda_before: int = 0
    measured: int = 0

    def start(self) -> None:
        self.rss_before = rss_bytes()
        self.cuda_before = cuda_allocated() if self.device == "cuda" else 0

    def finish(self, model: Any) -> int:
        tensors = tensor_bytes(model, self.device if self.device == "cuda" else "")
        if self.device == "cuda":
            self.measured = max(cuda_allocated() - self.cuda_before, tensors)
        elif tensors:
            self.measured = tensors
        elif not self.first:
            self.measured = max(rss_bytes() - self.rss_before, 0)
        return self.measured
