"""What an explanation costs, against one inference call of the same model, same run.

Per model and method: the median wall time of `Explain` over one input and of the
matching inference call (`Classify` of the same text, `ClassifyImage` of the same image),
both through a real server on loopback, and their ratio. Then what explanations do to
inference: the median and p90 latency of `Classify` calls, alone and while explanations
run back to back on the same model (the explanation queue lets inference go first), as
a ratio. And what keeping the torch model for gradients costs in memory: the bytes of
its parameters, and the engine that serves inference (where it is ONNX Runtime, the
torch copy is extra). Writes benchmarks/results/explain.json.

    .venv/bin/python benchmarks/explain.py
"""

from __future__ import annotations

import functools
import io
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc, vision_pb2, vision_pb2_grpc
from tests.helpers import running_server

TEXT = "The staff was rude and the room was dirty, but the breakfast was wonderful."
IG = common_pb2.EXPLAIN_METHOD_INTEGRATED_GRADIENTS
OCCLUSION = common_pb2.EXPLAIN_METHOD_OCCLUSION
INFER_REPEATS = 30
EXPLAIN_REPEATS = 5
IMAGE_EXPLAIN_REPEATS = 3
LATENCY_CALLS = 60


def timed(call: Callable[[], Any], repeats: int) -> list[float]:
    call()  # warm
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def torch_bytes(module: Any) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


def text_models() -> dict[str, Any]:
    from modelport.nlp.__main__ import build, default_models
    from modelport.nlp.settings import NlpSettings

    models = [m for m in default_models() if m.name in ("sentiment", "sentiment-spacy")]
    settings = NlpSettings(host="127.0.0.1", port=0, metrics_port=-1)
    results: dict[str, Any] = {}
    with (
        running_server(build, settings, models) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = nlp_pb2_grpc.NlpServiceStub(channel)

        def classify(model: str) -> Callable[[], Any]:
            request = nlp_pb2.ClassifyRequest(model=common_pb2.ModelRef(name=model), inputs=[TEXT])
            return lambda: stub.Classify(request, timeout=60)

        def explain(model: str, method: common_pb2.ExplainMethod.ValueType) -> Callable[[], Any]:
            request = nlp_pb2.ExplainTextRequest(
                model=common_pb2.ModelRef(name=model), input=TEXT, method=method
            )
            return lambda: stub.Explain(request, timeout=600)

        for model, methods in (("sentiment", (IG, OCCLUSION)), ("sentiment-spacy", (OCCLUSION,))):
            infer = statistics.median(timed(classify(model), INFER_REPEATS))
            for method in methods:
                cost = statistics.median(timed(explain(model, method), EXPLAIN_REPEATS))
                name = common_pb2.ExplainMethod.Name(method).removeprefix("EXPLAIN_METHOD_")
                results[f"{model} {name.lower()}"] = {
                    "infer_s": infer,
                    "explain_s": cost,
                    "ratio": cost / infer,
                }
                print(
                    f"{model} {name}: explain {cost:.3f} s, infer {infer:.4f} s, "
                    f"x{cost / infer:.0f}"
                )

        alone = timed(classify("sentiment"), LATENCY_CALLS)
        stop = threading.Event()

        def explain_forever() -> None:
            call = explain("sentiment", IG)
            while not stop.is_set():
                call()

        worker = threading.Thread(target=explain_forever)
        worker.start()
        time.sleep(1.0)
        try:
            busy = timed(classify("sentiment"), LATENCY_CALLS)
        finally:
            stop.set()
            worker.join()
        results["classify latency with explanations running"] = {
            "alone_p50_s": statistics.median(alone),
            "alone_p90_s": p90(alone),
            "busy_p50_s": statistics.median(busy),
            "busy_p90_s": p90(busy),
            "p50_ratio": statistics.median(busy) / statistics.median(alone),
            "p90_ratio": p90(busy) / p90(alone),
        }
        print(
            "classify latency alone / with explanations:",
            results["classify latency with explanations running"],
        )
        prototypes: Any = server.repository.get("sentiment", "").model
        results["sentiment torch copy"] = {
            "engine": prototypes.encoder.engine.kind,
            "torch_parameter_bytes": torch_bytes(prototypes.encoder.model),
        }
    return results


def image_models() -> dict[str, Any]:
    from PIL import Image
    from skimage import data as photos

    from modelport.vision.__main__ import build, default_models
    from modelport.vision.settings import VisionSettings

    buffer = io.BytesIO()
    Image.fromarray(photos.chelsea()).save(buffer, "JPEG")  # type: ignore[no-untyped-call]
    image = buffer.getvalue()
    ref = common_pb2.ModelRef(name="efficientnet-lite0")
    settings = VisionSettings(host="127.0.0.1", port=0, metrics_port=-1)
    results: dict[str, Any] = {}
    with (
        running_server(build, settings, default_models()[:1]) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = vision_pb2_grpc.VisionServiceStub(channel)
        request = vision_pb2.ClassifyImageRequest(model=ref, images=[image])
        infer = statistics.median(
            timed(lambda: stub.ClassifyImage(request, timeout=60), INFER_REPEATS)
        )
        for method in (IG, OCCLUSION):
            explain = vision_pb2.ExplainImageRequest(model=ref, image=image, method=method)
            cost = statistics.median(
                timed(functools.partial(stub.Explain, explain, timeout=900), IMAGE_EXPLAIN_REPEATS)
            )
            name = common_pb2.ExplainMethod.Name(method).removeprefix("EXPLAIN_METHOD_")
            results[f"efficientnet-lite0 {name.lower()}"] = {
                "infer_s": infer,
                "explain_s": cost,
                "ratio": cost / infer,
            }
            print(f"efficientnet-lite0 {name}: explain {cost:.3f} s, infer {infer:.4f} s")
        model: Any = server.repository.get("efficientnet-lite0", "").model
        results["efficientnet-lite0 torch copy"] = {
            "engine": model.engine.kind,
            "torch_parameter_bytes": torch_bytes(model.torch_module),
        }
    return results


def main() -> None:
    results = {**text_models(), **image_models()}
    out = Path(__file__).parent / "results" / "explain.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
