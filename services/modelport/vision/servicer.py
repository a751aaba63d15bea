"""`modelport.v1.VisionService`: protobuf in, plain types to the handler, protobuf out."""

from __future__ import annotations

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
)
from modelport.serving.calls import model_listener
from modelport.v1 import vision_pb2, vision_pb2_grpc

from .handler import ExplainCall, ImagesCall, VisionHandler
from .models import Box
from .ocr import TextLine, joined

Context = grpc.aio.ServicerContext[Any, Any]


class VisionServicer(vision_pb2_grpc.VisionServiceServicer):
    def __init__(self, handler: VisionHandler) -> None:
        self._handler = handler

    async def ClassifyImage(
        self, request: vision_pb2.ClassifyImageRequest, context: Context
    ) -> vision_pb2.ClassifyImageResponse:
        answer = await self._handler.classify(
            ImagesCall(
                request.model.name,
                request.model.version,
                list(request.images),
                top_k=request.top_k,
                on_model=model_listener(context),
            )
        )
        return vision_pb2.ClassifyImageResponse(
            model=model_ref(answer.model, answer.version),
            results=classifications(answer.results),
        )

    async def DetectObjects(
        self, request: vision_pb2.DetectObjectsRequest, context: Context
    ) -> vision_pb2.DetectObjectsResponse:
        answer = await self._handler.detect(
            ImagesCall(
                request.model.name,
                request.model.version,
                list(request.images),
                threshold=request.threshold,
                max_detections=request.max_detections,
                on_model=model_listener(context),
            )
        )
        return vision_pb2.DetectObjectsResponse(
            model=model_ref(answer.model, answer.version),
            results=[
                vision_pb2.ImageDetections(
                    detections=[
                        vision_pb2.Detection(
                            label=b.label, score=b.score, box=bounding_box(b), text=b.text
                        )
                        for b in boxes
                    ]
                )
                for boxes in answer.results
            ],
        )

    async def ReadText(
        self, request: vision_pb2.ReadTextRequest, context: Context
    ) -> vision_pb2.ReadTextResponse:
        answer = await self._handler.read_text(
            ImagesCall(
                request.model.name,
                request.model.version,
                list(request.images),
                threshold=request.min_confidence,
                on_model=model_listener(context),
            )
        )
        return vision_pb2.ReadTextResponse(
            model=model_ref(answer.model, answer.version),
            results=[
                vision_pb2.ImageText(
                    lines=[
                        vision_pb2.TextLine(
                            text=t.text, confidence=t.confidence, box=bounding_box(t)
                        )
                        for t in lines
                    ],
                    text=joined(lines),
                )
                for lines in answer.results
            ],
        )

    async def Explain(
        self, request: vision_pb2.ExplainImageRequest, context: Context
    ) -> vision_pb2.ExplainImageResponse:
        answer = await self._handler.explain(
            ExplainCall(
                request.model.name,
                request.model.version,
                request.image,
                request.target_label,
                method_from_proto(request.method),
                request.steps,
                baseline_from_proto(request.baseline),
                request.window,
                request.stride,
                request.heatmap,
                model_listener(context),
            )
        )
        found = answer.explanation
        height, width = found.saliency.shape
        response = vision_pb2.ExplainImageResponse(
            model=model_ref(answer.model, answer.version),
            method=METHOD_TO_PROTO[found.method],
            target_label=found.target,
            target_score=found.target_score,
            prediction=label_scores(found.prediction),
            saliency=vision_pb2.Saliency(
                height=height, width=width, data=found.saliency.astype("<f4").tobytes()
            ),
            steps=found.steps,
            baseline=BASELINE_TO_PROTO[found.baseline],
            window=found.window,
            stride=found.stride,
            forward_passes=found.passes,
            heatmap_png=answer.heatmap_png,
        )
        if found.delta is not None:
            response.convergence_delta = found.delta
        return response


def bounding_box(b: Box | TextLine) -> vision_pb2.BoundingBox:
    return vision_pb2.BoundingBox(x_min=b.x_min, y_min=b.y_min, x_max=b.x_max, y_max=b.y_max)
