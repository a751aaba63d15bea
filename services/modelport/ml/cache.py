"""Where Modelport keeps what it builds once and reuses across starts (exported ONNX
graphs, converted model folders)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`MODELPORT_CACHE_DIR`, default `~/.cache/modelport`.

    The one place the ml layer reads it; `ServerSettings.cache_dir` becomes its source
    when settings carry the cache directory.
    """
    return Path(os.environ.get("MODELPORT_CACHE_DIR", Path.home() / ".cache" / "modelport"))
