"""`python -m tests.gated_embedding`: the real embedding service, except that each model's
weights start loading only once the file named by `MODELPORT_TEST_LOAD_GATE` exists.

A slow load the test controls: the process starts, registers its models with the router
as LOADING and stays there until the test creates the gate file. Everything else (server,
repository, registration, the model itself) is the product's code.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from modelport.embedding import __main__ as embedding
from modelport.embedding.settings import EmbeddingSettings
from modelport.inference.process import configure_process, serve_forever
from modelport.inference.server import InferenceServer

GATE = "MODELPORT_TEST_LOAD_GATE"


def build(settings: EmbeddingSettings) -> InferenceServer:
    from modelport.embedding.model import SentenceEmbeddingModel

    gate = Path(os.environ[GATE])
    load_weights = SentenceEmbeddingModel.load_weights

    def gated(self: SentenceEmbeddingModel) -> None:
        while not gate.exists():  # a test helper: the load thread waits for the test
            time.sleep(0.05)
        load_weights(self)

    SentenceEmbeddingModel.load_weights = gated  # type: ignore[method-assign]
    return embedding.build(settings)


def main() -> None:
    settings = EmbeddingSettings()
    configure_process(settings)
    asyncio.run(serve_forever(build(settings), settings.models))


if __name__ == "__main__":
    main()
