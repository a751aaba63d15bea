"""Vision models on the Open Inference Protocol: `image` BYTES [n] (encoded files) →
`label` BYTES [n, k] and `score` FP32 [n, k] (parameter `top_k`, default 5), or for
detectors `detections` BYTES [n], one JSON list of {label, score, box} per image
(parameters `threshold`, `max_detections`), or for OCR models `text` BYTES [n] (the
text read, rows on lines) and `lines` BYTES [n], one JSON list of {text, confidence, box}
per image in reading order (parameter `min_confidence`)."""

from __future__ import annotations

import json
from dataclasses import asdict

from modelport.inference.oip import Inputs, Params, TaskAdapter
from modelport.inference.repository import ManagedModel
from modelport.inference.tensors import Output, labels_outputs, only_input, param
from modelport.serving.catalog import Task
from modelport.serving.errors import InvalidArgument

from .handler import ImagesCall, VisionHandler
from .ocr import joined


def adapters(handler: VisionHandler) -> dict[Task, TaskAdapter]:
    def images(inputs: Inputs) -> list[bytes]:
        tensor = only_input(inputs, "image")
        if tensor.datatype != "BYTES":
            raise InvalidArgument("inputs[image]", f"must be BYTES, not {tensor.datatype}")
        return [bytes(x) for x in tensor.data]

    async def classify(managed: ManagedModel, inputs: Inputs, params: Params) -> list[Output]:
        answer = await handler.classify(
            ImagesCall(
                managed.name, managed.version, images(inputs), top_k=param(params, "top_k", int, 0)
            )
        )
        return labels_outputs(answer.results)

    async def detect(managed: ManagedModel, inputs: Inputs, params: Params) -> list[Output]:
        data = images(inputs)
        answer = await handler.detect(
            ImagesCall(
                managed.name,
                managed.version,
                data,
                threshold=param(params, "threshold", float, 0.0),
                max_detections=param(params, "max_detections", int, 0),
            )
        )
        encoded = [json.dumps([b.__dict__ for b in boxes]).encode() for boxes in answer.results]
        return [Output("detections", "BYTES", (len(data),), encoded)]

    async def read_text(managed: ManagedModel, inputs: Inputs, params: Params) -> list[Output]:
        data = images(inputs)
        answer = await handler.read_text(
            ImagesCall(
                managed.name,
                managed.version,
                data,
                threshold=param(params, "min_confidence", float, 0.0),
            )
        )
        shape = (len(data),)
        return [
            Output("text", "BYTES", shape, [joined(lines).encode() for lines in answer.results]),
            Output(
                "lines",
                "BYTES",
                shape,
                [json.dumps([asdict(t) for t in lines]).encode() for lines in answer.results],
            ),
        ]

    return {
        Task.IMAGE_CLASSIFICATION: TaskAdapter(classify),
        Task.OBJECT_DETECTION: TaskAdapter(detect),
        Task.OCR: TaskAdapter(read_text),
    }
