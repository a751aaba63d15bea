"""Vision throughput per engine, in one run: in process and through the router, same images.

The in-process limits run EfficientNet-Lite0 on already-preprocessed images at batch 16
(the service's batch size), on eager torch (the old limit) and on the ONNX Runtime engine
(the new one); decode + preprocess cost per image is measured separately. One vision
service per engine (`--engines`, each serving only `efficientnet-lite0-<engine>`, same
thread settings) is called through the router with one JPEG per call, at concurrency 1
(p50) and 16, the engines taking turns block by block; the in-process limits are
measured before the served blocks and after each round, and the ratios use their means.
Writes benchmarks/results/vision.json.

    .venv/bin/python benchmarks/vision.py [--images 320] [--rounds 2]
        [--engines torch,onnxruntime]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from benchmarks.served import load_in_process, start_per_engine, summary
from modelport.v1 import common_pb2, vision_pb2, vision_pb2_grpc

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


class InProcessVision:
    """EfficientNet-Lite0 in this process on one engine (loaded once)."""

    def __init__(self, engine: str) -> None:
        from modelport.vision.__main__ import default_models
        from modelport.vision.models import TorchImageClassifier
        from modelport.vision.settings import VisionSettings

        self.model = load_in_process(
            TorchImageClassifier, default_models()[0], VisionSettings().cache_dir, engine, THREADS
        )

    def prepare(self, images: list[bytes]) -> tuple[list[Any], float]:
        """The images decoded and preprocessed, and the ms that took per image."""
        from modelport.vision.images import ImageLimits, decode
        from modelport.vision.models import ImageItem

        limits = ImageLimits(20 << 20, 40_000_000)
        start = time.perf_counter()
        items = [ImageItem(self.model.prepare(decode(data, limits, "x")), 5) for data in images]
        return items, (time.perf_counter() - start) / len(images) * 1000

    def limit(self, items: list[Any]) -> float:
        """Images/s of the model alone at batch 16."""
        self.model.predict_batch(items[:16])
        start = time.perf_counter()
        for i in range(0, len(items), 16):
            self.model.predict_batch(items[i : i + 16])
        return len(items) / (time.perf_counter() - start)


async def load(
    target: str, model_name: str, images: list[bytes], concurrency: int
) -> tuple[float, float]:
    """(images/s, p50 ms) with one image per call."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = vision_pb2_grpc.VisionServiceStub(channel)
        model = common_pb2.ModelRef(name=model_name)
        await stub.ClassifyImage(
            vision_pb2.ClassifyImageRequest(model=model, images=images[:1]), timeout=120
        )
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
    from modelport.vision.__main__ import default_models

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=2, help="served blocks per engine")
    parser.add_argument("--engines", default="torch,onnxruntime")
    args = parser.parse_args()
    engines = args.engines.split(",")
    images = jpegs(args.images)
    spec = default_models()[0].model_dump(mode="json", exclude_none=True)
    specs = {e: {**spec, "name": f"efficientnet-lite0-{e}", "engine": e} for e in engines}
    workdir = Path(tempfile.mkdtemp(prefix="modelport-vision-bench-"))
    processes, targets = start_per_engine("modelport.vision", specs, workdir, threads=THREADS)
    limits: dict[str, list[float]] = {"eager": [], "engine": []}
    served: dict[str, list[float]] = {e: [] for e in engines}
    lone: dict[str, float] = {}
    try:
        local = {"eager": InProcessVision("torch"), "engine": InProcessVision("onnxruntime")}
        items, prepare_ms = local["eager"].prepare(images)

        def measure_limits() -> None:
            for name, model in local.items():
                limits[name].append(model.limit(items))

        measure_limits()
        for e in engines:
            _, lone[e] = asyncio.run(load(targets[e], specs[e]["name"], images[:64], 1))
        for _ in range(args.rounds):
            for e in engines:
                rate, _ = asyncio.run(load(targets[e], specs[e]["name"], images, 16))
                served[e].append(rate)
            measure_limits()
    finally:
        for process in processes:
            process.stop()
    print(f"decode + preprocess: {prepare_ms:.1f} ms per image, not in the limits")
    results = {
        **summary("EfficientNet-Lite0", "images", 16, limits, served, lone),
        "decode_preprocess_ms": prepare_ms,
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "vision.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
