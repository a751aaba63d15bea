"""`modelport.v1.EmbeddingService`: protobuf in, plain types to the handler, protobuf out."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any

import grpc

from modelport.inference.convert import model_ref, truncation_from_proto, usage
from modelport.serving.calls import ModelListener, ignore_model, model_listener
from modelport.v1 import embedding_pb2, embedding_pb2_grpc

from .handler import EmbedCall, EmbeddingHandler, EmbedResult

Context = grpc.aio.ServicerContext[Any, Any]

STREAM_WINDOW = 8
"""Requests of one EmbedStream worked on at once."""


def embed_call(
    request: embedding_pb2.EmbedRequest, on_model: ModelListener = ignore_model
) -> EmbedCall:
    return EmbedCall(
        model=request.model.name,
        version=request.model.version,
        inputs=list(request.inputs),
        normalize=request.normalize if request.HasField("normalize") else None,
        dimensions=request.dimensions,
        truncation=truncation_from_proto(request.truncation),
        on_model=on_model,
    )


def embed_response(result: EmbedResult, request_id: str) -> embedding_pb2.EmbedResponse:
    return embedding_pb2.EmbedResponse(
        model=model_ref(result.model, result.version),
        embeddings=[embedding_pb2.Embedding(values=v.tolist()) for v in result.embeddings],
        usage=usage(result.input_tokens),
        request_id=request_id,
    )


class EmbeddingServicer(embedding_pb2_grpc.EmbeddingServiceServicer):
    def __init__(self, handler: EmbeddingHandler) -> None:
        self._handler = handler

    async def Embed(
        self, request: embedding_pb2.EmbedRequest, context: Context
    ) -> embedding_pb2.EmbedResponse:
        result = await self._handler.embed(embed_call(request, model_listener(context)))
        return embed_response(result, request.request_id)

    async def EmbedStream(
        self, request_iterator: AsyncIterator[embedding_pb2.EmbedRequest], context: Context
    ) -> AsyncIterator[embedding_pb2.EmbedResponse]:
        pending: collections.deque[asyncio.Task[embedding_pb2.EmbedResponse]] = collections.deque()
        try:
            async for request in request_iterator:
                pending.append(asyncio.create_task(self.Embed(request, context)))
                while len(pending) >= STREAM_WINDOW or (pending and pending[0].done()):
                    yield await pending.popleft()
            while pending:
                yield await pending.popleft()
        finally:
            for task in pending:
                task.cancel()
