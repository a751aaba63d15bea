"""Device, dtype and thread choices for torch models (imported only by inference code)."""

from __future__ import annotations

import logging

import torch

from modelport.inference.settings import ModelSpec
from modelport.serving.errors import ConfigError

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def cuda_unusable() -> str | None:
    """Why torch cannot use CUDA in this process, or None when it can."""
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a build without CUDA"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no usable GPU"
    return None


def require_cuda(spec: ModelSpec, problem: str | None) -> None:
    """A model whose spec asks for `device: cuda` fails to load, loudly, when CUDA is not
    usable (`problem` says why): never a silent fall back to the CPU, which would leave a
    GPU pod serving slowly while it holds a GPU it does not use."""
    if spec.device == "cuda" and problem is not None:
        raise ConfigError(
            f"device: cuda, but CUDA is not usable here: {problem}; the model does not fall "
            "back to the CPU (set its device, or MODELPORT_DEFAULT_DEVICE where it says auto, "
            "to auto or cpu to allow that)"
        )


def select_device(spec: ModelSpec) -> tuple[torch.device, torch.dtype]:
    """CUDA when asked (a ConfigError when it is not usable) or present (float16 by default
    there), else CPU with float32."""
    require_cuda(spec, cuda_unusable())
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
