"""`modelport.v1.NlpService`: protobuf in, plain types to the handler, protobuf out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from modelport.inference.convert import (
    BASELINE_TO_PROTO,
    METHOD_TO_PROTO,
    baseline_from_proto,
    classifications,
    label_scores,
    method_from_proto,
    model_ref,
    truncation_from_proto,
    usage,
)
from modelport.inference.decoding import FinishReason
from modelport.serving.calls import ModelListener, ignore_model, model_listener
from modelport.v1 import nlp_pb2, nlp_pb2_grpc

from .handler import (
    ChatCall,
    ClassifyCall,
    Decoding,
    ExplainCall,
    GenerateCall,
    Message,
    NlpHandler,
    TokensCall,
)
from .tokens import Aggregation

Context = grpc.aio.ServicerContext[Any, Any]
ASSISTANT = "assistant"

_AGGREGATION = {
    nlp_pb2.AGGREGATION_UNSPECIFIED: Aggregation.SIMPLE,
    nlp_pb2.AGGREGATION_NONE: Aggregation.NONE,
    nlp_pb2.AGGREGATION_SIMPLE: Aggregation.SIMPLE,
    nlp_pb2.AGGREGATION_FIRST: Aggregation.FIRST,
    nlp_pb2.AGGREGATION_AVERAGE: Aggregation.AVERAGE,
}
_FINISH = {
    FinishReason.LENGTH: nlp_pb2.FINISH_REASON_LENGTH,
    FinishReason.EOS: nlp_pb2.FINISH_REASON_EOS,
    FinishReason.STOP_SEQUENCE: nlp_pb2.FINISH_REASON_STOP_SEQUENCE,
}


def decoding(p: nlp_pb2.GenerationParameters) -> Decoding:
    return Decoding(
        max_new_tokens=p.max_new_tokens,
        do_sample=p.do_sample,
        temperature=p.temperature if p.HasField("temperature") else None,
        top_p=p.top_p if p.HasField("top_p") else None,
        top_k=p.top_k if p.HasField("top_k") else None,
        repetition_penalty=p.repetition_penalty if p.HasField("repetition_penalty") else None,
        seed=p.seed if p.HasField("seed") else None,
        stop=list(p.stop),
    )


def generate_call(
    request: nlp_pb2.GenerateRequest, on_model: ModelListener = ignore_model
) -> GenerateCall:
    return GenerateCall(
        request.model.name,
        request.model.version,
        list(request.prompts),
        decoding(request.parameters),
        on_model,
    )


def chat_call(request: nlp_pb2.ChatRequest, on_model: ModelListener = ignore_model) -> ChatCall:
    return ChatCall(
        request.model.name,
        request.model.version,
        [Message(m.role, m.content) for m in request.messages],
        decoding(request.parameters),
        on_model,
    )


class NlpServicer(nlp_pb2_grpc.NlpServiceServicer):
    def __init__(self, handler: NlpHandler) -> None:
        self._handler = handler

    async def Classify(
        self, request: nlp_pb2.ClassifyRequest, context: Context
    ) -> nlp_pb2.ClassifyResponse:
        answer = await self._handler.classify(
            ClassifyCall(
                request.model.name,
                request.model.version,
                list(request.inputs),
                request.top_k,
                truncation_from_proto(request.truncation),
                model_listener(context),
            )
        )
        return nlp_pb2.ClassifyResponse(
            model=model_ref(answer.model, answer.version),
            results=classifications(answer.results),
            usage=usage(answer.input_tokens),
        )

    async def ClassifyTokens(
        self, request: nlp_pb2.ClassifyTokensRequest, context: Context
    ) -> nlp_pb2.ClassifyTokensResponse:
        answer = await self._handler.classify_tokens(
            TokensCall(
                request.model.name,
                request.model.version,
                list(request.inputs),
                _AGGREGATION.get(request.aggregation, Aggregation.SIMPLE),
                request.min_score,
                model_listener(context),
            )
        )
        return nlp_pb2.ClassifyTokensResponse(
            model=model_ref(answer.model, answer.version),
            results=[
                nlp_pb2.TokenClassification(
                    entities=[
                        nlp_pb2.Entity(
                            label=e.label, score=e.score, text=e.text, start=e.start, end=e.end
                        )
                        for e in entities
                    ]
                )
                for entities in answer.results
            ],
            usage=usage(answer.input_tokens),
        )

    async def Generate(
        self, request: nlp_pb2.GenerateRequest, context: Context
    ) -> nlp_pb2.GenerateResponse:
        answer = await self._handler.generate(generate_call(request, model_listener(context)))
        generations = [
            nlp_pb2.Generation(
                text=g.text,
                finish_reason=_FINISH[g.finish],
                usage=usage(g.input_tokens, g.output_tokens),
            )
            for g in answer.results
        ]
        return nlp_pb2.GenerateResponse(
            model=model_ref(answer.model, answer.version),
            generations=generations,
            usage=usage(answer.input_tokens, sum(g.output_tokens for g in answer.results)),
        )

    async def GenerateStream(
        self, request: nlp_pb2.GenerateRequest, context: Context
    ) -> AsyncIterator[nlp_pb2.GenerateStreamResponse]:
        name, version, chunks = await self._handler.generate_stream(
            generate_call(request, model_listener(context))
        )
        ref = model_ref(name, version)
        async for item in chunks:
            response = nlp_pb2.GenerateStreamResponse(
                model=ref, index=item.index, text=item.chunk.text
            )
            if item.chunk.finish is not None:
                response.finish_reason = _FINISH[item.chunk.finish]
                response.usage.CopyFrom(usage(item.chunk.input_tokens, item.chunk.output_tokens))
            yield response

    async def Chat(self, request: nlp_pb2.ChatRequest, context: Context) -> nlp_pb2.ChatResponse:
        answer = await self._handler.chat(chat_call(request, model_listener(context)))
        reply = answer.reply
        return nlp_pb2.ChatResponse(
            model=model_ref(answer.model, answer.version),
            message=nlp_pb2.ChatMessage(role=ASSISTANT, content=reply.text),
            finish_reason=_FINISH[reply.finish],
            usage=usage(reply.input_tokens, reply.output_tokens),
        )

    async def ChatStream(
        self, request: nlp_pb2.ChatRequest, context: Context
    ) -> AsyncIterator[nlp_pb2.ChatStreamResponse]:
        name, version, chunks = await self._handler.chat_stream(
            chat_call(request, model_listener(context))
        )
        ref = model_ref(name, version)
        role = ASSISTANT
        async for chunk in chunks:
            response = nlp_pb2.ChatStreamResponse(model=ref, role=role, text=chunk.text)
            role = ""
            if chunk.finish is not None:
                response.finish_reason = _FINISH[chunk.finish]
                response.usage.CopyFrom(usage(chunk.input_tokens, chunk.output_tokens))
            yield response

    async def Explain(
        self, request: nlp_pb2.ExplainTextRequest, context: Context
    ) -> nlp_pb2.ExplainTextResponse:
        answer = await self._handler.explain(
            ExplainCall(
                request.model.name,
                request.model.version,
                request.input,
                request.target_label,
                method_from_proto(request.method),
                request.steps,
                baseline_from_proto(request.baseline),
                truncation_from_proto(request.truncation),
                model_listener(context),
            )
        )
        found = answer.explanation
        response = nlp_pb2.ExplainTextResponse(
            model=model_ref(answer.model, answer.version),
            method=METHOD_TO_PROTO[found.method],
            target_label=found.target,
            target_score=found.target_score,
            prediction=label_scores(found.prediction),
            tokens=[
                nlp_pb2.TokenAttribution(
                    token=t.token,
                    text=t.text,
                    start=t.start,
                    end=t.end,
                    word_index=t.word,
                    special=t.special,
                    attribution=t.attribution,
                )
                for t in found.tokens
            ],
            steps=found.steps,
            baseline=BASELINE_TO_PROTO[found.baseline],
            forward_passes=found.passes,
            usage=usage(found.input_tokens),
        )
        if found.delta is not None:
            response.convergence_delta = found.delta
        return response
