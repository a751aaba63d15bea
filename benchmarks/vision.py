"""Vision throughput: the gRPC service against the in-process model, same images.

The in-process limits run EfficientNet-Lite0 on already-preprocessed images at batch 16
(the service's batch size), on eager torch (the old limit) and on the ONNX Runtime engine
(the new one); decode + preprocess cost per image is measured separately. The service
(child process, same thread settings, its default engine: auto) is called at concurrency
1 and 16 with one JPEG per call. Writes benchmarks/results/vision.json.

    .venv/bin/python benchmarks/vision.py [--images 320]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import time
from pathlib import Path

import grpc
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmarks.embedding import free_port
from modelport.v1 import common_pb2, vision_pb2, vision_pb2_grpc
from tests.helpers import ServiceProcess

THREADS = 2


def jpegs(count: int) -> list[bytes]:
    from skimage import data as photos
    from sklearn.datasets import load_sample_images

    sources = [getattr(photos, name)() for name in ("chelsea", "coffee", "astronaut", "rocket")]
    sources += list(load_sample_images().images)
    out = []
    for i in range(count):
        image = Image.fromarray(sources[i % len(sources)])
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85 + i % 10)
        out.append(buffer.getvalue())
    return out


def in_process(images: list[bytes], engine: str) -> tuple[float, float]:
    """(images/s of the model alone at batch 16 on `engine`, ms to decode + preprocess one
    image)."""
    import torch

    from modelport.vision.__main__ import default_models
    from modelport.vision.images import ImageLimits, decode
    from modelport.vision.models import ImageItem, TorchImageClassifier
    from modelport.vision.settings import VisionSettings

    torch.set_num_threads(THREADS)
    model = TorchImageClassifier(
        default_models()[0].model_copy(update={"engine": engine}), VisionSettings().cache_dir
    )
    model.load_weights()
    assert model.metadata().properties["engine"] == engine
    limits = ImageLimits(20 << 20, 40_000_000)
    start = time.perf_counter()
    items = [ImageItem(model.prepare(decode(data, limits, "x")), 5) for data in images]
    prepare_ms = (time.perf_counter() - start) / len(images) * 1000
    model.predict_batch(items[:16])
    start = time.perf_counter()
    for i in range(0, len(items), 16):
        model.predict_batch(items[i : i + 16])
    return len(items) / (time.perf_counter() - start), prepare_ms


async def load(target: str, images: list[bytes], concurrency: int) -> tuple[float, float]:
    """(images/s, p50 ms) with one image per call."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = vision_pb2_grpc.VisionServiceStub(channel)
        model = common_pb2.ModelRef(name="efficientnet-lite0")
        queue = iter(images)

        async def worker() -> None:
            for data in queue:
                t0 = time.perf_counter()
                await stub.ClassifyImage(
                    vision_pb2.ClassifyImageRequest(model=model, images=[data]), timeout=120
                )
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return len(images) / elapsed, float(np.percentile(latencies, 50)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=320)
    args = parser.parse_args()
    images = jpegs(args.images)
    server = ServiceProcess(
        "modelport.vision", {**os.environ, "MODELPORT_TORCH_THREADS": str(THREADS)}, free_port()
    )
    server.start().wait_serving(300)
    results: dict[str, float] = {}
    try:
        c1, c1_p50 = asyncio.run(load(server.address, images[:64], 1))
        c16, c16_p50 = asyncio.run(load(server.address, images, 16))
    finally:
        server.stop()
    limit, prepare_ms = in_process(images, "torch")
    engine_limit, _ = in_process(images, "onnxruntime")
    results = {
        "limit_images_per_s": limit,
        "engine_limit_images_per_s": engine_limit,
        "decode_preprocess_ms": prepare_ms,
        "grpc_c1_images_per_s": c1,
        "grpc_c1_p50_ms": c1_p50,
        "grpc_c16_images_per_s": c16,
        "grpc_c16_p50_ms": c16_p50,
        "ratio_c16": c16 / limit,
        "engine_ratio_c16": c16 / engine_limit,
    }
    print(
        f"in-process model at batch 16: eager {limit:.1f} images/s, ONNX Runtime "
        f"{engine_limit:.1f} images/s (decode + preprocess: {prepare_ms:.1f} ms per image, "
        "not included)"
    )
    print(f"gRPC concurrency 1: {c1:.1f} images/s, p50 {c1_p50:.1f} ms ({c1 / limit:.2f}x)")
    print(
        f"gRPC concurrency 16: {c16:.1f} images/s, p50 {c16_p50:.1f} ms ({c16 / limit:.2f}x "
        f"eager, {c16 / engine_limit:.2f}x engine)"
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "vision.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
