"""Device, dtype and thread choices for torch models (imported only by inference code)."""

from __future__ import annotations

import logging

import torch

from modelport.inference.settings import ModelSpec

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def select_device(spec: ModelSpec) -> tuple[torch.device, torch.dtype]:
    """CUDA when asked or present (float16 by default there), else CPU with float32."""
    cuda = spec.device == "cuda" or (spec.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    if spec.dtype != "auto":
        dtype = _DTYPES[spec.dtype]
    else:
        dtype = torch.float16 if cuda else torch.float32
    return device, dtype


def configure_threads(threads: int) -> None:
    """Set torch's intra-op threads (0 keeps torch's default of one per core)."""
    if threads > 0:
        torch.set_num_threads(threads)
    log.info("torch intra-op threads: %d", torch.get_num_threads())
