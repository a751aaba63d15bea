"""NLP logic behind the servicer: validation, model lookup, batching, generation.
No protobuf here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from modelport.inference.decoding import Chunk, FinishReason, GenerationParams, Generations
from modelport.inference.repository import ManagedModel, ModelRepository
from modelport.inference.text import TextItem, TextLimits, Truncation, validate_texts
from modelport.serving.calls import ModelListener, ignore_model
from modelport.serving.catalog import wrong_rpc
from modelport.serving.errors import FailedPrecondition, InvalidArgument

from .classify import Scores, TextClassifier
from .generate import GenerativeModel
from .tokens import Aggregation, Entity, EntityTagger

MAX_STOP_SEQUENCES = 8
CLASSIFY = "modelport.v1.NlpService/Classify"
CLASSIFY_TOKENS = "modelport.v1.NlpService/ClassifyTokens"
GENERATE = "modelport.v1.NlpService/Generate"


@dataclass(frozen=True)
class ClassifyCall:
    model: str
    version: str
    inputs: list[str]
    top_k: int
    truncation: Truncation
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


@dataclass(frozen=True)
class TokensCall:
    model: str
    version: str
    inputs: list[str]
    aggregation: Aggregation
    min_score: float
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


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
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


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


class NlpHandler:
    def __init__(self, repository: ModelRepository, limits: TextLimits) -> None:
        self._repository = repository
        self._limits = limits

    def _model(
        self, name: str, version: str, kind: Any, rpc: str, on_model: ModelListener
    ) -> tuple[ManagedModel, Any]:
        """The READY model of a call of `rpc`; FAILED_PRECONDITION naming the right RPC when
        the model does another task."""
        managed = self._repository.get(name, version)
        on_model(managed.name, managed.version)
        if not isinstance(managed.model, kind):
            raise wrong_rpc(name, managed.model.task, rpc) or FailedPrecondition(
                f"model {name!r} cannot serve {rpc}"
            )
        return managed, managed.model

    # -- classification -------------------------------------------------------------------
    async def classify(self, call: ClassifyCall) -> Answer:
        validate_texts(call.inputs, "inputs", self._limits)
        if call.top_k < 0:
            raise InvalidArgument("top_k", "must be >= 0")
        managed, model = self._model(
            call.model, call.version, TextClassifier, CLASSIFY, call.on_model
        )
        managed.batcher.admit(len(call.inputs))
        items: list[TextItem] = await model.preprocess(
            model.prepare, call.inputs, call.top_k, call.truncation
        )
        results: list[Scores] = await managed.batcher.submit(items)
        return Answer(managed.name, managed.version, results, sum(i.tokens for i in items))

    async def classify_tokens(self, call: TokensCall) -> Answer:
        validate_texts(call.inputs, "inputs", self._limits)
        if not 0.0 <= call.min_score <= 1.0:
            raise InvalidArgument("min_score", "must be between 0 and 1")
        managed, model = self._model(
            call.model, call.version, EntityTagger, CLASSIFY_TOKENS, call.on_model
        )
        managed.batcher.admit(len(call.inputs))
        items: list[TextItem] = await model.preprocess(
            model.prepare, call.inputs, call.aggregation, call.min_score
        )
        results: list[list[Entity]] = await managed.batcher.submit(items)
        return Answer(managed.name, managed.version, results, sum(i.tokens for i in items))

    # -- generation ---------------------------------------------------------------------
    def _check_params(self, call: GenerateCall) -> None:
        """Checks that need no model."""
        if call.max_new_tokens < 0:
            raise InvalidArgument("parameters.max_new_tokens", "must be >= 0")
        if call.top_k is not None and call.top_k < 0:
            raise InvalidArgument("parameters.top_k", "must be >= 0")
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

    def _params(self, call: GenerateCall, model: GenerativeModel) -> GenerationParams:
        """Decoding parameters within the model's limits (`spec.generation`, and its
        context: a prompt takes at least one token of it). A request that leaves
        max_new_tokens at 0 gets the model's default (cut to fit its prompts in `_start`)."""
        limit = model.max_new_tokens()
        n = call.max_new_tokens or min(model.spec.generation.default_max_new_tokens, limit)
        if n > limit:
            why = (
                f"its context of {model.max_context} tokens holds the prompt too"
                if limit < model.spec.generation.max_new_tokens
                else "its configured limit"
            )
            raise InvalidArgument(
                "parameters.max_new_tokens",
                f"is {n}; this model generates at most {limit} new tokens ({why})",
            )
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

    async def _start(self, call: GenerateCall) -> tuple[ManagedModel, list[int], Generations]:
        """Validate, admit, tokenise and queue every prompt: (model, prompt lengths, their
        generations)."""
        validate_texts(call.prompts, "prompts", self._limits)
        self._check_params(call)
        managed, model = self._model(
            call.model, call.version, GenerativeModel, GENERATE, call.on_model
        )
        params = self._params(call, model)
        decoder = managed.decoder
        decoder.admit(len(call.prompts))
        prompts: list[list[int]] = await model.preprocess(model.encode_prompts, call.prompts)
        if not call.max_new_tokens:  # the default, cut to what the longest prompt leaves
            room = model.max_context - max(map(len, prompts))
            params = replace(params, max_new_tokens=max(1, min(params.max_new_tokens, room)))
        for i, prompt in enumerate(prompts):
            model.check(prompt, params, f"prompts[{i}]")
        return managed, [len(p) for p in prompts], decoder.submit(prompts, params)

    async def generate(self, call: GenerateCall) -> Answer:
        managed, lengths, generations = await self._start(call)
        texts: list[list[str]] = [[] for _ in lengths]
        done: dict[int, Generation] = {}
        try:
            async for index, chunk in generations:
                texts[index].append(chunk.text)
                if chunk.finish is not None:
                    done[index] = Generation(
                        "".join(texts[index]),
                        chunk.finish,
                        chunk.input_tokens,
                        chunk.output_tokens,
                    )
        finally:
            generations.close()
        results = [done[i] for i in range(len(lengths))]
        return Answer(managed.name, managed.version, results, sum(lengths))

    async def generate_stream(
        self, call: GenerateCall
    ) -> tuple[str, str, AsyncIterator[StreamChunk]]:
        """(model, version, chunks of every prompt as they come)."""
        managed, _, generations = await self._start(call)
        return managed.name, managed.version, _stream(generations)


async def _stream(generations: Generations) -> AsyncIterator[StreamChunk]:
    try:
        async for index, chunk in generations:
            yield StreamChunk(index, chunk)
    finally:
        generations.close()
