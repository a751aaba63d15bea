"""Embedding models on the Open Inference Protocol: `text` BYTES [n] → `embedding` FP32
[n, dim]. Parameters: `normalize` (bool), `dimensions` (int), `truncate` (bool, default
true)."""

from __future__ import annotations

import numpy as np

from modelport.inference.oip import Inputs, Params, TaskAdapter
from modelport.inference.repository import ManagedModel
from modelport.inference.tensors import Output, only_input, param
from modelport.inference.text import Truncation

from .handler import EmbedCall, EmbeddingHandler


def adapter(handler: EmbeddingHandler) -> TaskAdapter:
    async def infer(managed: ManagedModel, inputs: Inputs, params: Params) -> list[Output]:
        texts = only_input(inputs, "text").strings()
        truncate = param(params, "truncate", bool, True)
        result = await handler.embed(
            EmbedCall(
                managed.name,
                managed.version,
                texts,
                param(params, "normalize", bool),
                param(params, "dimensions", int, 0),
                Truncation.END if truncate else Truncation.NONE,
            )
        )
        vectors = np.stack(result.embeddings)
        return [Output("embedding", "FP32", vectors.shape, vectors)]

    return TaskAdapter(infer)
