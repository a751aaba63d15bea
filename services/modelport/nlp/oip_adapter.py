"""NLP models on the Open Inference Protocol.

- classification: `text` BYTES [n] → `label` BYTES [n, k], `score` FP32 [n, k]
  (parameter `top_k`, default all labels);
- token classification: `text` BYTES [n] → `entities` BYTES [n], one JSON list per input;
- generation: `prompt` BYTES [n] → `text` BYTES [n]; on ModelStreamInfer, one response
  per chunk with `text` BYTES [1] and `index` INT32 [1], then a final empty response.
  Parameters: `max_new_tokens`, `do_sample`, `temperature`, `top_p`, `top_k`,
  `repetition_penalty`, `seed`, `stop` (one string).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from modelport.inference.oip import Inputs, Params, TaskAdapter
from modelport.inference.repository import ManagedModel
from modelport.inference.tensors import Output, labels_outputs, only_input, param
from modelport.inference.text import Truncation
from modelport.serving.catalog import Task

from .handler import ClassifyCall, Decoding, GenerateCall, NlpHandler, TokensCall
from .tokens import Aggregation


def _generate_call(managed: ManagedModel, inputs: Inputs, params: Params) -> GenerateCall:
    stop = param(params, "stop", str)
    return GenerateCall(
        managed.name,
        managed.version,
        only_input(inputs, "prompt").strings(),
        Decoding(
            max_new_tokens=param(params, "max_new_tokens", int, 0),
            do_sample=param(params, "do_sample", bool, False),
            temperature=param(params, "temperature", float),
            top_p=param(params, "top_p", float),
            top_k=param(params, "top_k", int),
            repetition_penalty=param(params, "repetition_penalty", float),
            seed=param(params, "seed", int),
            stop=[stop] if stop else [],
        ),
    )


def adapters(handler: NlpHandler) -> dict[Task, TaskAdapter]:
    async def classify(managed: ManagedModel, inputs: Inputs, params: Params) -> list[Output]:
        answer = await handler.classify(
            ClassifyCall(
                managed.name,
                managed.version,
                only_input(inputs, "text").strings(),
                param(params, "top_k", int, 0),
                Truncation.END,
            )
        )
        return labels_outputs(answer.results)

    async def tokens(managed: ManagedModel, inputs: Inputs, params: Params) -> list[Output]:
        texts = only_input(inputs, "text").strings()
        answer = await handler.classify_tokens(
            TokensCall(
                managed.name,
                managed.version,
                texts,
                Aggregation.SIMPLE,
                param(params, "min_score", float, 0.0),
            )
        )
        entities = [json.dumps([e.__dict__ for e in result]).encode() for result in answer.results]
        return [Output("entities", "BYTES", (len(texts),), entities)]

    async def generate(managed: ManagedModel, inputs: Inputs, params: Params) -> list[Output]:
        call = _generate_call(managed, inputs, params)
        answer = await handler.generate(call)
        texts = [g.text.encode() for g in answer.results]
        return [Output("text", "BYTES", (len(texts),), texts)]

    async def stream(
        managed: ManagedModel, inputs: Inputs, params: Params
    ) -> AsyncIterator[list[Output]]:
        _, _, chunks = await handler.generate_stream(_generate_call(managed, inputs, params))
        async for item in chunks:
            if item.chunk.text:
                yield [
                    Output("text", "BYTES", (1,), [item.chunk.text.encode()]),
                    Output("index", "INT32", (1,), [item.index]),
                ]

    generation = TaskAdapter(generate, stream)
    return {
        Task.TEXT_CLASSIFICATION: TaskAdapter(classify),
        Task.TOKEN_CLASSIFICATION: TaskAdapter(tokens),
        Task.TEXT_GENERATION: generation,
        Task.TEXT2TEXT_GENERATION: generation,
    }
