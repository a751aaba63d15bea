"""The `/v1` routes: parse, call the serving logic, send JSON or SSE."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport.gateway.body import json_body, validate
from modelport.gateway.openai.protocol import ChatRequest, CompletionRequest, EmbeddingRequest
from modelport.gateway.openai.serving import OpenAiServing
from modelport.gateway.responses import Json, caller, guarded
from modelport.gateway.sse import EventStream


def routes(serving: OpenAiServing, heartbeat_s: float) -> list[Route]:
    async def models(request: Request) -> Response:
        return Json(await serving.models(caller(request)))

    async def model(request: Request) -> Response:
        return Json(await serving.model(request.path_params["model"], caller(request)))

    async def embeddings(request: Request) -> Response:
        wire = validate(EmbeddingRequest, await json_body(request))
        return Json(await serving.embeddings(wire, caller(request)))

    async def completions(request: Request) -> Response:
        wire = validate(CompletionRequest, await json_body(request))
        if wire.stream:
            return EventStream(await serving.completion_stream(wire, caller(request)), heartbeat_s)
        return Json(await serving.completion(wire, caller(request)))

    async def chat(request: Request) -> Response:
        wire = validate(ChatRequest, await json_body(request))
        if wire.stream:
            return EventStream(await serving.chat_stream(wire, caller(request)), heartbeat_s)
        return Json(await serving.chat(wire, caller(request)))

    return [
        Route("/v1/models", guarded("openai", models), methods=["GET"]),
        Route("/v1/models/{model:path}", guarded("openai", model), methods=["GET"]),
        Route("/v1/embeddings", guarded("openai", embeddings), methods=["POST"]),
        Route("/v1/completions", guarded("openai", completions), methods=["POST"]),
        Route("/v1/chat/completions", guarded("openai", chat), methods=["POST"]),
    ]
