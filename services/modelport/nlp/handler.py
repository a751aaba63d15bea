"""NLP logic behind the servicer: validation, model lookup, batching, generation.
No protobuf here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from modelport.inference.decoding import Chunk, FinishReason, GenerationParams, Generations
from modelport.inference.explaining import Baseline, ExplainQueue, Method, run_work
from modelport.inference.repository import ManagedModel, ModelRepository
from modelport.inference.text import (
    TextItem,
    TextLimits,
    Truncation,
    validate_text,
    validate_texts,
)
from modelport.serving.calls import ModelListener, ignore_model
from modelport.serving.catalog import wrong_rpc
from modelport.serving.errors import FailedPrecondition, InvalidArgument

from .classify import Scores, TextClassifier
from .explain import INPUT_FIELD, TextExplanation, TextQuestion
from .generate import GenerativeModel
from .tokens import Aggregation, Entity, EntityTagger

MAX_STOP_SEQUENCES = 8
CLASSIFY = "modelport.v1.NlpService/Classify"
CLASSIFY_TOKENS = "modelport.v1.NlpService/ClassifyTokens"
GENERATE = "modelport.v1.NlpService/Generate"
CHAT = "modelport.v1.NlpService/Chat"
EXPLAIN = "modelport.v1.NlpService/Explain"
ROLES = ("system", "user", "assistant")
"""The roles a Chat message may have (what chat templates know)."""


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
class ExplainCall:
    model: str
    version: str
    input: str
    target: str
    method: Method | None
    """None: the model's default."""
    steps: int
    baseline: Baseline | None
    truncation: Truncation
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


@dataclass(frozen=True)
class ExplainAnswer:
    model: str
    version: str
    explanation: TextExplanation


@dataclass(frozen=True)
class Decoding:
    """A request's decoding parameters (`modelport.v1.GenerationParameters`); None and 0
    mean the model's default."""

    max_new_tokens: int = 0
    do_sample: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GenerateCall:
    model: str
    version: str
    prompts: list[str]
    decoding: Decoding
    on_model: ModelListener = field(default=ignore_model, compare=False)
    """Told the model version as soon as it is resolved."""


@dataclass(frozen=True)
class Message:
    """One message of a conversation."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatCall:
    model: str
    version: str
    messages: list[Message]
    decoding: Decoding
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
class ChatAnswer:
    """A chat reply with the model that wrote it."""

    model: str
    version: str
    reply: Generation


@dataclass(frozen=True)
class StreamChunk:
    index: int
    chunk: Chunk


class NlpHandler:
    def __init__(
        self, repository: ModelRepository, limits: TextLimits, explanations: ExplainQueue
    ) -> None:
        self._repository = repository
        self._limits = limits
        self._explanations = explanations

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

    async def explain(self, call: ExplainCall) -> ExplainAnswer:
        """Attributions of one text's tokens for a label, computed in the explanation
        queue at a lower priority than the model's inference."""
        validate_text(call.input, INPUT_FIELD, self._limits)
        limits = self._explanations.limits
        steps = limits.steps(call.steps)
        if call.baseline is Baseline.BLACK:
            raise InvalidArgument("baseline", "BASELINE_BLACK is for images; use PAD or ZERO")
        managed, model = self._model(
            call.model, call.version, TextClassifier, EXPLAIN, call.on_model
        )
        method = call.method or (
            Method.INTEGRATED_GRADIENTS if model.gradients else Method.OCCLUSION
        )
        if method is Method.INTEGRATED_GRADIENTS and not model.gradients:
            raise InvalidArgument(
                "method",
                f"model {managed.name!r} has no gradients (not a torch model): "
                "use EXPLAIN_METHOD_OCCLUSION",
            )
        question = TextQuestion(
            call.input,
            call.target,
            method,
            steps,
            call.baseline or Baseline.PAD,
            limits.batch_size,
            call.truncation,
        )
        async with self._explanations.slot(managed.name):
            explanation = await run_work(managed.batcher, model.explain(question))
        return ExplainAnswer(managed.name, managed.version, explanation)

    # -- generation ---------------------------------------------------------------------
    def _check_params(self, d: Decoding) -> None:
        """Checks that need no model."""
        if d.max_new_tokens < 0:
            raise InvalidArgument("parameters.max_new_tokens", "must be >= 0")
        if d.top_k is not None and d.top_k < 0:
            raise InvalidArgument("parameters.top_k", "must be >= 0")
        if d.temperature is not None and not d.temperature > 0:
            raise InvalidArgument("parameters.temperature", "must be > 0")
        if d.top_p is not None and not 0 < d.top_p <= 1:
            raise InvalidArgument("parameters.top_p", "must be in (0, 1]")
        if d.repetition_penalty is not None and not d.repetition_penalty > 0:
            raise InvalidArgument("parameters.repetition_penalty", "must be > 0")
        if len(d.stop) > MAX_STOP_SEQUENCES:
            raise InvalidArgument("parameters.stop", f"at most {MAX_STOP_SEQUENCES} sequences")
        for i, stop in enumerate(d.stop):
            if not stop:
                raise InvalidArgument(f"parameters.stop[{i}]", "is empty")

    def _params(self, d: Decoding, model: GenerativeModel) -> GenerationParams:
        """Decoding parameters within the model's limits (`spec.generation`, and its
        context: a prompt takes at least one token of it). A request that leaves
        max_new_tokens at 0 gets the model's default (cut to fit its prompts in `_submit`)."""
        limit = model.max_new_tokens()
        n = d.max_new_tokens or min(model.spec.generation.default_max_new_tokens, limit)
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
            do_sample=d.do_sample,
            temperature=d.temperature or 1.0,
            top_p=d.top_p or 1.0,
            top_k=d.top_k or 0,
            repetition_penalty=d.repetition_penalty or 1.0,
            seed=d.seed,
            stop=tuple(d.stop),
        )

    def _submit(
        self,
        managed: ManagedModel,
        model: GenerativeModel,
        prompts: list[list[int]],
        params: GenerationParams,
        decoding: Decoding,
        fields: list[str],
        what: str = "prompt",
    ) -> Generations:
        """Check each tokenised prompt against the context (INVALID_ARGUMENT naming its
        field) and queue them all."""
        if not decoding.max_new_tokens:  # the default, cut to what the longest prompt leaves
            room = model.max_context - max(map(len, prompts))
            params = replace(params, max_new_tokens=max(1, min(params.max_new_tokens, room)))
        for prompt, name in zip(prompts, fields, strict=True):
            model.check(prompt, params, name, what)
        return managed.decoder.submit(prompts, params)

    async def _start(self, call: GenerateCall) -> tuple[ManagedModel, list[int], Generations]:
        """Validate, admit, tokenise and queue every prompt: (model, prompt lengths, their
        generations)."""
        validate_texts(call.prompts, "prompts", self._limits)
        self._check_params(call.decoding)
        managed, model = self._model(
            call.model, call.version, GenerativeModel, GENERATE, call.on_model
        )
        params = self._params(call.decoding, model)
        managed.decoder.admit(len(call.prompts))
        prompts: list[list[int]] = await model.preprocess(model.encode_prompts, call.prompts)
        fields = [f"prompts[{i}]" for i in range(len(prompts))]
        generations = self._submit(managed, model, prompts, params, call.decoding, fields)
        return managed, [len(p) for p in prompts], generations

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

    # -- chat -----------------------------------------------------------------------------
    async def _start_chat(self, call: ChatCall) -> tuple[ManagedModel, Generations]:
        """Validate the conversation, apply the model's chat template (with the assistant's
        turn opened) and queue its reply, which also ends at the template's end-of-turn
        token. The reply shares the model's decoding loop with every generation."""
        validate_messages(call.messages, self._limits)
        self._check_params(call.decoding)
        managed, model = self._model(call.model, call.version, GenerativeModel, CHAT, call.on_model)
        if model.chat_template is None:
            raise FailedPrecondition(
                f"model {managed.name!r} has no chat template, so it cannot serve Chat: "
                "call modelport.v1.NlpService/Generate with a prompt, or use a chat "
                "(instruction-tuned) model"
            )
        params = replace(self._params(call.decoding, model), stop_ids=model.end_of_turn_ids)
        managed.decoder.admit(1)
        prompt: list[int] = await model.preprocess(
            model.encode_chat, [(m.role, m.content) for m in call.messages]
        )
        generations = self._submit(
            managed, model, [prompt], params, call.decoding, ["messages"], "conversation"
        )
        return managed, generations

    async def chat(self, call: ChatCall) -> ChatAnswer:
        managed, generations = await self._start_chat(call)
        texts: list[str] = []
        try:
            async for _, chunk in generations:
                texts.append(chunk.text)
                if chunk.finish is not None:
                    reply = Generation(
                        "".join(texts), chunk.finish, chunk.input_tokens, chunk.output_tokens
                    )
        finally:
            generations.close()
        return ChatAnswer(managed.name, managed.version, reply)

    async def chat_stream(self, call: ChatCall) -> tuple[str, str, AsyncIterator[Chunk]]:
        """(model, version, chunks of the reply as they come)."""
        managed, generations = await self._start_chat(call)
        return managed.name, managed.version, _reply(generations)


def validate_messages(messages: list[Message], limits: TextLimits) -> None:
    """At least one message, at most `max_inputs`; each with a known role and a content
    within `max_input_bytes`, empty only for an assistant."""
    if not messages:
        raise InvalidArgument("messages", "must contain at least one message")
    if len(messages) > limits.max_inputs:
        raise InvalidArgument(
            "messages", f"has {len(messages)} messages; at most {limits.max_inputs} per call"
        )
    for i, message in enumerate(messages):
        if message.role not in ROLES:
            raise InvalidArgument(
                f"messages[{i}].role",
                f"is {message.role!r}; must be one of {', '.join(map(repr, ROLES))}",
            )
        if message.role != "assistant" and not message.content.strip():
            raise InvalidArgument(f"messages[{i}].content", "is empty")
        size = len(message.content.encode("utf-8", "surrogatepass"))
        if size > limits.max_input_bytes:
            raise InvalidArgument(
                f"messages[{i}].content",
                f"has {size} bytes; at most {limits.max_input_bytes} per message",
            )


async def _stream(generations: Generations) -> AsyncIterator[StreamChunk]:
    try:
        async for index, chunk in generations:
            yield StreamChunk(index, chunk)
    finally:
        generations.close()


async def _reply(generations: Generations) -> AsyncIterator[Chunk]:
    try:
        async for _, chunk in generations:
            yield chunk
    finally:
        generations.close()
