"""A Seldon MLServer custom runtime for sentence-transformers models (the peer benchmark).

MLServer's documented way to serve a model it has no runtime for: a subclass of
`mlserver.MLModel` with `load()` and `predict()`, named by `implementation` in
model-settings.json. Input: one BYTES tensor of sentences, shape [n] (or [n, 1]); output:
`embedding`, FP32 [n, dim], exactly what `SentenceTransformer.encode` returns (this
model's pipeline ends with a Normalize module, so the vectors are unit length).

model-settings.json `parameters`: `uri` is the sentence-transformers folder,
`extra.torch_threads` the torch intra-op threads (default 2).

This file runs inside MLServer's own virtualenv (benchmarks/peers/setup.sh), never in the
project's, so mlserver and sentence-transformers are imported without type information.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import torch
from mlserver import MLModel  # type: ignore[import-not-found, unused-ignore]
from mlserver.codecs import NumpyCodec, StringCodec  # type: ignore[import-not-found, unused-ignore]
from mlserver.types import (  # type: ignore[import-not-found, unused-ignore]
    InferenceRequest,
    InferenceResponse,
)
from sentence_transformers import SentenceTransformer


class SentenceEmbedding(MLModel):  # type: ignore[misc]
    """`text` BYTES [n] → `embedding` FP32 [n, dim] with `SentenceTransformer.encode`."""

    async def load(self) -> bool:
        params = self.settings.parameters
        extra: dict[str, Any] = (params.extra or {}) if params is not None else {}
        torch.set_num_threads(int(extra.get("torch_threads", 2)))
        path = params.uri if params is not None else None
        if not path:
            raise ValueError("model-settings.json needs parameters.uri (the model folder)")
        self._model = SentenceTransformer(path, device="cpu")
        self._lock = asyncio.Lock()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if len(payload.inputs) != 1:
            raise ValueError("expected exactly one BYTES input of sentences")
        sentences = StringCodec.decode_input(payload.inputs[0])
        # encode blocks: run it off MLServer's event loop, one batch at a time.
        async with self._lock:
            vectors = await asyncio.to_thread(self._encode, sentences)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[NumpyCodec.encode_output("embedding", vectors)],
        )

    def _encode(self, sentences: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        vectors = self._model.encode(sentences, batch_size=32, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)
