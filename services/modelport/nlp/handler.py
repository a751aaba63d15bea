"""NLP logic behind the servicer: validation, model lookup, batching, generation.
No protobuf here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from modelport.inference.metrics import InferenceMetrics
from modelport.inference.repository import ManagedModel, ModelRepository
from modelport.inference.text import Truncation, validate_texts
from modelport.serving.catalog import ModelState
from modelport.serving.errors import InvalidArgument

from .classify import ClassifyItem, Scores, TextClassifier
from .generate import Chunk, FinishReason, GenerationEngine, GenerationParams, GenerativeModel
from .tokens import Aggregation, Entity, TokenClassifier

MAX_STOP_SEQUENCES = 8


@dataclass(frozen=True)
class ClassifyCall:
    model: str
    version: str
    inputs: list[str]
    top_k: int
    truncation: Truncation


@dataclass(frozen=True)
class TokensCall:
    model: str
    version: str
    inputs: list[str]
    aggregation: Aggregation
    min_score: float


@dataclass(frozen=True)
class GenerateCall:
    model: str
    version: str
    prompts: list[str]
    max_new_tokens: int
    do_sample: bool
    temperature: float | None
    top_p: float | None
    top_k: int | None
    repetition_penalty: float | None
    seed: int | None
    stop: list[str]


@dataclass(frozen=True)
class Answer:
    """Results of a batch call with the model that produced them and the input tokens."""

    model: str
    version: str
    results: list[Any]
    input_tokens: int


@dataclass(frozen=True)
class Generation:
    text: str
    finish: FinishReason
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class StreamChunk:
    index: int
    chunk: Chunk


@dataclass(frozen=True)
class GenerationLimits:
    """Server-side generation bounds (from the NLP settings)."""

    default_max_new_tokens: int
    max_new_tokens: int
    max_running: int
    max_waiting: int
    max_batch_tokens: int


class NlpHandler:
    def __init__(
        self,
        repository: ModelRepository,
        max_inputs: int,
        limits: GenerationLimits,
        metrics: InferenceMetrics,
    ) -> None:
        self._repository = repository
        self._metrics = metrics
        self._max_inputs = max_inputs
        self._limits = limits
        self._engines: dict[tuple[str, str], GenerationEngine] = {}
        repository.add_listener(self._on_model_change)

    def _model(self, name: str, version: str, kind: Any, task: str) -> tuple[ManagedModel, Any]:
        managed = self._repository.get(name, version)
        if not isinstance(managed.model, kind):
            raise InvalidArgument("model.name", f"{name!r} is not a {task} model")
        return managed, managed.model

    # -- classification -------------------------------------------------------------------
    async def classify(self, call: ClassifyCall) -> Answer:
        validate_texts(call.inputs, "inputs", self._max_inputs)
        if call.top_k < 0:
            raise InvalidArgument("top_k", "must be >= 0")
        managed, model = self._model(
            call.model, call.version, TextClassifier, "text-classification"
        )
        managed.batcher.admit(len(call.inputs))
        ids: list[list[int]] = await model.preprocess(model.tokenize, call.inputs, call.truncation)
        results: list[Scores] = await managed.batcher.submit(
            [ClassifyItem(i, call.top_k) for i in ids]
        )
        return Answer(managed.name, managed.version, results, sum(map(len, ids)))

    async def classify_tokens(self, call: TokensCall) -> Answer:
        validate_texts(call.inputs, "inputs", self._max_inputs)
        if not 0.0 <= call.min_score <= 1.0:
            raise InvalidArgument("min_score", "must be between 0 and 1")
        managed, model = self._model(
            call.model, call.version, TokenClassifier, "token-classification"
        )
        managed.batcher.admit(len(call.inputs))
        items = await model.preprocess(model.prepare, call.inputs, call.aggregation, call.min_score)
        results: list[list[Entity]] = await managed.batcher.submit(items)
        return Answer(managed.name, managed.version, results, sum(len(i.ids) for i in items))

    # -- generation ---------------------------------------------------------------------
    def _params(self, call: GenerateCall) -> GenerationParams:
        limit = self._limits.max_new_tokens
        if call.max_new_tokens < 0:
            raise InvalidArgument("parameters.max_new_tokens", "must be >= 0")
        if call.top_k is not None and call.top_k < 0:
            raise InvalidArgument("parameters.top_k", "must be >= 0")
        n = call.max_new_tokens or self._limits.default_max_new_tokens
        if n > limit:
            raise InvalidArgument(
                "parameters.max_new_tokens", f"is {n}; this server allows {limit}"
            )
        if call.temperature is not None and not call.temperature > 0:
            raise InvalidArgument("parameters.temperature", "must be > 0")
        if call.top_p is not None and not 0 < call.top_p <= 1:
            raise InvalidArgument("parameters.top_p", "must be in (0, 1]")
        if call.repetition_penalty is not None and not call.repetition_penalty > 0:
            raise InvalidArgument("parameters.repetition_penalty", "must be > 0")
        if len(call.stop) > MAX_STOP_SEQUENCES:
            raise InvalidArgument("parameters.stop", f"at most {MAX_STOP_SEQUENCES} sequences")
        for i, stop in enumerate(call.stop):
            if not stop:
                raise InvalidArgument(f"parameters.stop[{i}]", "is empty")
        return GenerationParams(
            max_new_tokens=n,
            do_sample=call.do_sample,
            temperature=call.temperature or 1.0,
            top_p=call.top_p or 1.0,
            top_k=call.top_k or 0,
            repetition_penalty=call.repetition_penalty or 1.0,
            seed=call.seed,
            stop=tuple(call.stop),
        )

    def _engine(self, managed: ManagedModel, model: GenerativeModel) -> GenerationEngine:
        key = (managed.name, managed.version)
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = GenerationEngine(
                model,
                managed.batcher.run_on_worker,
                self._metrics,
                max_running=self._limits.max_running,
                max_waiting=self._limits.max_waiting,
                max_batch_tokens=self._limits.max_batch_tokens,
            )
            engine.start()
        return engine

    async def _on_model_change(self, managed: ManagedModel) -> None:
        if managed.state in (ModelState.UNLOADING, ModelState.FAILED):
            engine = self._engines.pop((managed.name, managed.version), None)
            if engine is not None:
                await engine.close()

    async def _prepare(
        self, call: GenerateCall
    ) -> tuple[ManagedModel, GenerationEngine, list[list[int]], GenerationParams]:
        validate_texts(call.prompts, "prompts", self._max_inputs)
        params = self._params(call)
        managed, model = self._model(call.model, call.version, GenerativeModel, "text-generation")
        engine = self._engine(managed, model)
        prompts: list[list[int]] = await model.preprocess(model.encode_prompts, call.prompts)
        for i, prompt in enumerate(prompts):
            engine.check(prompt, params, f"prompts[{i}]")
        return managed, engine, prompts, params

    async def generate(self, call: GenerateCall) -> Answer:
        managed, engine, prompts, params = await self._prepare(call)

        async def one(prompt: list[int]) -> Generation:
            text: list[str] = []
            async with contextlib.aclosing(engine.generate(prompt, params)) as chunks:
                async for chunk in chunks:
                    text.append(chunk.text)
                    if chunk.finish is not None:
                        return Generation(
                            "".join(text), chunk.finish, chunk.input_tokens, chunk.output_tokens
                        )
            raise RuntimeError("generation ended without a finish reason")

        results = await asyncio.gather(*(one(p) for p in prompts))
        return Answer(managed.name, managed.version, list(results), sum(map(len, prompts)))

    async def generate_stream(
        self, call: GenerateCall
    ) -> tuple[str, str, AsyncIterator[StreamChunk]]:
        """(model, version, chunks of every prompt as they come)."""
        managed, engine, prompts, params = await self._prepare(call)
        return managed.name, managed.version, _merge(engine, prompts, params)


async def _merge(
    engine: GenerationEngine, prompts: list[list[int]], params: GenerationParams
) -> AsyncIterator[StreamChunk]:
    queue: asyncio.Queue[StreamChunk | BaseException | None] = asyncio.Queue()

    async def pump(index: int, prompt: list[int]) -> None:
        try:
            async with contextlib.aclosing(engine.generate(prompt, params)) as chunks:
                async for chunk in chunks:
                    await queue.put(StreamChunk(index, chunk))
        except Exception as exc:
            await queue.put(exc)
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(i, p)) for i, p in enumerate(prompts)]
    try:
        open_streams = len(tasks)
        while open_streams:
            item = await queue.get()
            if item is None:
                open_streams -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
