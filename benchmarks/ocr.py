"""OCR load time and throughput: Modelport's `rapidocr` runtime against RapidOCR used as
its README shows (`RapidOCR()(image)`, its default settings), on the same rendered pages,
in the same run.

Pages are rendered with Pillow's bundled TrueType font (five lines of text each, 760x330).
Measured in-process with 2 threads: the baseline reads one page per call; the runtime
reads them as the service's batcher hands them over (`--batch` pages per call, lines of
every page recognised together). Both readings are checked to be the same text. Writes
benchmarks/results/ocr.json.

    .venv/bin/python benchmarks/ocr.py [--pages 16] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from PIL import Image, ImageDraw, ImageFont

THREADS = 2
WORDS = ["invoice", "total", "order", "shipped", "paid", "model", "serving", "router", "batch"]


def pages(count: int) -> list[Image.Image]:
    font = ImageFont.load_default(size=36)
    out = []
    for i in range(count):
        image = Image.new("RGB", (760, 330), "white")
        draw = ImageDraw.Draw(image)
        for line in range(5):
            words = " ".join(WORDS[(i + line + k) % len(WORDS)] for k in range(3))
            text = f"{words} {1000 + 7 * i + line}"
            draw.text((24, 16 + 62 * line), text, fill="black", font=font)
        out.append(image)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--pages", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()

    import torch
    from rapidocr import RapidOCR

    from modelport.vision.ocr import RapidOcrModel, joined
    from modelport.vision.settings import RapidOcrSpec, VisionSettings

    torch.set_num_threads(THREADS)
    images = pages(args.pages)

    start = time.perf_counter()
    model = RapidOcrModel(RapidOcrSpec(name="ocr"), VisionSettings().cache_dir)
    model.load_weights()
    model.predict_batch(model.warmup_batch())
    load_s = time.perf_counter() - start
    items = [model.prepare(image, 0.5) for image in images]
    start = time.perf_counter()
    texts = []
    for i in range(0, len(items), args.batch):
        for lines in model.predict_batch(items[i : i + args.batch]):
            assert isinstance(lines, list)
            texts.append(joined(lines))
    runtime_s = time.perf_counter() - start

    start = time.perf_counter()
    baseline = RapidOCR(
        params={
            "Global.log_level": "warning",
            "EngineConfig.onnxruntime.intra_op_num_threads": THREADS,
        }
    )
    baseline(np.asarray(images[0])[:, :, ::-1])
    baseline_load_s = time.perf_counter() - start
    start = time.perf_counter()
    baseline_texts = []
    for image in images:
        result = baseline(np.asarray(image)[:, :, ::-1])
        baseline_texts.append("\n".join(getattr(result, "txts", None) or ()))
    baseline_s = time.perf_counter() - start

    same = sum(a == b for a, b in zip(texts, baseline_texts, strict=True))
    results = {
        "pages": args.pages,
        "batch": args.batch,
        "threads": THREADS,
        "load_s": round(load_s, 2),
        "pages_per_s": round(args.pages / runtime_s, 2),
        "baseline_load_s": round(baseline_load_s, 2),
        "baseline_pages_per_s": round(args.pages / baseline_s, 2),
        "speedup": round(baseline_s / runtime_s, 2),
        "same_text": f"{same}/{args.pages}",
    }
    print(
        f"load (with warm-up) {load_s:.1f} s; {results['pages_per_s']} pages/s at batch "
        f"{args.batch} vs RapidOCR defaults {results['baseline_pages_per_s']} pages/s "
        f"({results['speedup']}x); same text on {same}/{args.pages} pages"
    )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ocr.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
