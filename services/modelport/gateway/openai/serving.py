"""OpenAI requests as calls on the router: embeddings → `EmbeddingService.Embed`,
completions → `NlpService.Generate[Stream]`, chat → `NlpService.Chat[Stream]`, models →
`RegistryService.ListModels/GetModel`. Plain dicts out; the routes send them."""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from modelport.gateway.errors import GatewayError, bad_request, openai_error_body
from modelport.gateway.openai.protocol import (
    ChatRequest,
    CompletionRequest,
    EmbeddingRequest,
    Sampling,
)
from modelport.gateway.sse import event
from modelport.gateway.upstream import Caller, Router, first_and_rest
from modelport.v1 import common_pb2, embedding_pb2, nlp_pb2, registry_pb2

EMBED = "/modelport.v1.EmbeddingService/Embed"
GENERATE = "/modelport.v1.NlpService/Generate"
GENERATE_STREAM = "/modelport.v1.NlpService/GenerateStream"
CHAT = "/modelport.v1.NlpService/Chat"
CHAT_STREAM = "/modelport.v1.NlpService/ChatStream"
LIST_MODELS = "/modelport.v1.RegistryService/ListModels"
GET_MODEL = "/modelport.v1.RegistryService/GetModel"

FINISH = {
    nlp_pb2.FINISH_REASON_LENGTH: "length",
    nlp_pb2.FINISH_REASON_EOS: "stop",
    nlp_pb2.FINISH_REASON_STOP_SEQUENCE: "stop",
}
TOKEN_IDS = (
    "token ids are not accepted (they would be another tokenizer's): send the text. "
    "LangChain's OpenAIEmbeddings sends token ids unless told not to: pass "
    "check_embedding_ctx_length=False"
)


class OpenAiServing:
    def __init__(self, router: Router, *, chunk_size: int, completion_max_tokens: int) -> None:
        self._router = router
        self._chunk = chunk_size
        self._completion_max_tokens = completion_max_tokens
        self._created = int(time.time())

    # -- models ---------------------------------------------------------------------------
    def _model(self, info: registry_pb2.ModelInfo) -> dict[str, Any]:
        task = info.versions[0].task if info.versions else common_pb2.TASK_UNSPECIFIED
        return {
            "id": info.name,
            "object": "model",
            "created": self._created,
            "owned_by": "modelport",
            "task": common_pb2.Task.Name(task).removeprefix("TASK_").lower(),
            "versions": [v.version for v in info.versions],
        }

    async def models(self, caller: Caller) -> dict[str, Any]:
        listed = await self._router.unary(
            LIST_MODELS, registry_pb2.ListModelsRequest(), registry_pb2.ListModelsResponse, caller
        )
        return {"object": "list", "data": [self._model(m) for m in listed.models]}

    async def model(self, name: str, caller: Caller) -> dict[str, Any]:
        info = await self._router.unary(
            GET_MODEL, registry_pb2.GetModelRequest(name=name), registry_pb2.ModelInfo, caller
        )
        return self._model(info)

    # -- embeddings -----------------------------------------------------------------------
    async def embeddings(self, request: EmbeddingRequest, caller: Caller) -> dict[str, Any]:
        texts = [request.input] if isinstance(request.input, str) else request.input
        if not texts:
            raise bad_request("input", "must not be empty")
        if not all(isinstance(t, str) for t in texts):
            raise bad_request("input", TOKEN_IDS)
        chunks = [texts[i : i + self._chunk] for i in range(0, len(texts), self._chunk)]
        calls = [
            self._router.unary(
                EMBED,
                embedding_pb2.EmbedRequest(
                    model=common_pb2.ModelRef(name=request.model),
                    inputs=chunk,  # type: ignore[arg-type]
                    dimensions=request.dimensions or 0,
                    request_id=caller.request_id,
                ),
                embedding_pb2.EmbedResponse,
                caller,
            )
            for chunk in chunks
        ]
        responses = await asyncio.gather(*calls)
        data: list[dict[str, Any]] = []
        for response in responses:
            for vector in response.embeddings:
                values = list(vector.values)
                encoded: Any = values
                if request.encoding_format == "base64":
                    packed = struct.pack(f"<{len(values)}f", *values)
                    encoded = base64.b64encode(packed).decode("ascii")
                data.append({"object": "embedding", "index": len(data), "embedding": encoded})
        tokens = sum(r.usage.input_tokens for r in responses)
        return {
            "object": "list",
            "data": data,
            "model": responses[0].model.name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    # -- completions ----------------------------------------------------------------------
    def _parameters(self, request: Sampling, max_tokens: int) -> nlp_pb2.GenerationParameters:
        if request.n != 1:
            raise bad_request("n", "only 1 choice per request is supported")
        parameters = nlp_pb2.GenerationParameters(max_new_tokens=max_tokens)
        sampling = bool(request.temperature) or (
            request.temperature is None and request.top_p is not None
        )
        if sampling:  # temperature 0, or neither set: greedy decoding
            parameters.do_sample = True
            if request.temperature:
                parameters.temperature = request.temperature
            if request.top_p is not None:
                parameters.top_p = request.top_p
        if request.seed is not None:
            parameters.seed = request.seed
        stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        for i, text in enumerate(stop):
            if not text:
                raise bad_request(f"stop[{i}]", "must not be empty")
        parameters.stop.extend(stop)
        return parameters

    def _generate_request(self, request: CompletionRequest) -> nlp_pb2.GenerateRequest:
        prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
        if not prompts:
            raise bad_request("prompt", "must not be empty")
        if not all(isinstance(p, str) for p in prompts):
            raise bad_request("prompt", "token ids are not accepted: send the text")
        for name, value in (("echo", request.echo), ("logprobs", request.logprobs)):
            if value:
                raise bad_request(name, "is not supported")
        if request.best_of not in (None, 1):
            raise bad_request("best_of", "only 1 is supported")
        if request.suffix:
            raise bad_request("suffix", "is not supported")
        return nlp_pb2.GenerateRequest(
            model=common_pb2.ModelRef(name=request.model),
            prompts=prompts,  # type: ignore[arg-type]
            parameters=self._parameters(request, request.max_tokens or self._completion_max_tokens),
        )

    async def completion(self, request: CompletionRequest, caller: Caller) -> dict[str, Any]:
        response = await self._router.unary(
            GENERATE, self._generate_request(request), nlp_pb2.GenerateResponse, caller
        )
        return {
            **_head("cmpl", "text_completion", response.model.name, caller),
            "choices": [
                {
                    "index": i,
                    "text": g.text,
                    "logprobs": None,
                    "finish_reason": FINISH.get(g.finish_reason, "stop"),
                }
                for i, g in enumerate(response.generations)
            ],
            "usage": _usage(response.usage),
        }

    async def completion_stream(
        self, request: CompletionRequest, caller: Caller
    ) -> AsyncIterator[bytes]:
        """The SSE events, once the router has answered the first chunk (errors before
        it are raised here, for a real HTTP status)."""
        call = self._router.server_stream(
            GENERATE_STREAM,
            self._generate_request(request),
            nlp_pb2.GenerateStreamResponse,
            caller,
        )
        first, chunks = await first_and_rest(call, caller)
        model = first.model.name if first is not None else request.model
        base = _head("cmpl", "text_completion", model, caller)

        def choice(chunk: nlp_pb2.GenerateStreamResponse) -> dict[str, Any]:
            return {
                "index": chunk.index,
                "text": chunk.text,
                "logprobs": None,
                "finish_reason": FINISH.get(chunk.finish_reason),
            }

        return _events(chunks, base, _include_usage(request), choice)

    # -- chat -----------------------------------------------------------------------------
    def _chat_request(self, request: ChatRequest) -> nlp_pb2.ChatRequest:
        if request.tools:
            raise bad_request("tools", "tool calls are not supported")
        if request.response_format and request.response_format.get("type") not in (None, "text"):
            raise bad_request("response_format", "only type text is supported")
        if request.logprobs:
            raise bad_request("logprobs", "is not supported")
        messages = []
        for i, message in enumerate(request.messages):
            if message.role == "tool":
                raise bad_request(f"messages[{i}].role", "tool messages are not supported")
            content = message.content
            if isinstance(content, list):
                content = "".join(part.text for part in content)
            if content is None and message.role != "assistant":
                raise bad_request(f"messages[{i}].content", "is required")
            role = "system" if message.role == "developer" else message.role
            messages.append(nlp_pb2.ChatMessage(role=role, content=content or ""))
        limit = request.max_completion_tokens or request.max_tokens or 0
        return nlp_pb2.ChatRequest(
            model=common_pb2.ModelRef(name=request.model),
            messages=messages,
            parameters=self._parameters(request, limit),
        )

    async def chat(self, request: ChatRequest, caller: Caller) -> dict[str, Any]:
        response = await self._router.unary(
            CHAT, self._chat_request(request), nlp_pb2.ChatResponse, caller
        )
        return {
            **_head("chatcmpl", "chat.completion", response.model.name, caller),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": response.message.role or "assistant",
                        "content": response.message.content,
                    },
                    "logprobs": None,
                    "finish_reason": FINISH.get(response.finish_reason, "stop"),
                }
            ],
            "usage": _usage(response.usage),
        }

    async def chat_stream(self, request: ChatRequest, caller: Caller) -> AsyncIterator[bytes]:
        call = self._router.server_stream(
            CHAT_STREAM, self._chat_request(request), nlp_pb2.ChatStreamResponse, caller
        )
        first, chunks = await first_and_rest(call, caller)
        model = first.model.name if first is not None else request.model
        base = _head("chatcmpl", "chat.completion.chunk", model, caller)
        role_sent = False

        def choice(chunk: nlp_pb2.ChatStreamResponse) -> dict[str, Any]:
            nonlocal role_sent
            delta: dict[str, str] = {}
            if not role_sent:  # the first delta carries the role
                delta["role"] = chunk.role or "assistant"
                role_sent = True
            if chunk.text:
                delta["content"] = chunk.text
            finish = FINISH.get(chunk.finish_reason)
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

        return _events(chunks, base, _include_usage(request), choice)


def _head(prefix: str, kind: str, model: str, caller: Caller) -> dict[str, Any]:
    """The fields every OpenAI response and chunk starts with."""
    return {
        "id": f"{prefix}-{caller.request_id}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
    }


def _include_usage(request: Sampling) -> bool:
    return bool(request.stream_options and request.stream_options.include_usage)


async def _events(
    chunks: AsyncIterator[Any],
    base: dict[str, Any],
    include_usage: bool,
    choice: Callable[[Any], dict[str, Any]],
) -> AsyncIterator[bytes]:
    """The SSE events of a completion or chat stream: one chunk per message (`usage: null`
    on each when the usage was asked for), the usage chunk with `choices: []` only then,
    and `[DONE]`; an error in mid-stream is an error event and the end."""
    prompt = completion = 0
    try:
        async for chunk in chunks:
            if chunk.finish_reason:  # the last chunk of a prompt carries its usage
                prompt += chunk.usage.input_tokens
                completion += chunk.usage.output_tokens
            payload = {**base, "choices": [choice(chunk)]}
            if include_usage:
                payload["usage"] = None
            yield event(payload)
    except GatewayError as exc:
        yield event(openai_error_body(exc))
        return
    if include_usage:
        yield event({**base, "choices": [], "usage": _counts(prompt, completion)})
    yield event("[DONE]")


def _counts(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _usage(usage: common_pb2.Usage) -> dict[str, int]:
    return _counts(usage.input_tokens, usage.output_tokens)
