"""NLP service figures, same run, same inputs.

Classification (the sentiment model: label prototypes on all-MiniLM-L6-v2), per engine
in one run: in-process at batch 32 on eager torch (the old limit) and on the ONNX
Runtime engine (the new one), and served through the router by one NLP service per
engine (`--engines`, each serving only `sentiment-<engine>`), one text per call at
concurrency 1 (p50) and 32, the engines taking turns block by block; the in-process
limits are measured before the served blocks and after each round, and the ratios use
their means.
Generation (gemma-3-270m, bf16, greedy): aggregate tokens/s with 1, 4 and 8 concurrent
streams and time to first token; the ratio to one stream shows what batched decoding
buys. Chat (smollm2-135m-instruct, float32, greedy, ChatStream): the same figures for
questions answered through its chat template (replies end at its end of turn, so the
token counts are what it produced). Writes benchmarks/results/nlp.json.

    .venv/bin/python benchmarks/nlp.py [--parts classify,generate] [--texts 1000]
        [--rounds 2] [--engines torch,onnxruntime]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.embedding import free_port, make_sentences
from benchmarks.served import load_in_process, start_per_engine, summary
from modelport.nlp.__main__ import CHAT_MODEL
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc
from tests.helpers import ServiceProcess

THREADS = 2
PROMPTS = [
    "Once upon a time",
    "The best way to learn a language is",
    "In the morning the city",
    "Scientists have discovered",
    "My favourite recipe starts with",
    "The history of the river",
    "When the train arrived",
    "A good software engineer",
]


class InProcessClassifier:
    """The sentiment model in this process on one engine (loaded once)."""

    def __init__(self, engine: str) -> None:
        from modelport.nlp.__main__ import default_models
        from modelport.nlp.classify import PrototypeClassifier
        from modelport.nlp.settings import NlpSettings

        self.model = load_in_process(
            PrototypeClassifier, default_models()[0], NlpSettings().cache_dir, engine, THREADS
        )

    def limit(self, sentences: list[str]) -> float:
        """Texts/s at batch 32 (tokenise, forward, pool, compare with the prototypes)."""
        from modelport.inference.text import Truncation
        from modelport.nlp.classify import ClassifyItem

        model = self.model
        model.predict_batch(
            [ClassifyItem(i, 1) for i in model.tokenize(sentences[:32], Truncation.END)]
        )
        start = time.perf_counter()
        for i in range(0, len(sentences), 32):
            ids = model.tokenize(sentences[i : i + 32], Truncation.END)
            model.predict_batch([ClassifyItem(x, 1) for x in ids])
        return len(sentences) / (time.perf_counter() - start)


async def classify_grpc(
    target: str, model_name: str, sentences: list[str], concurrency: int
) -> tuple[float, float]:
    """(texts/s, p50 ms) with one text per call."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = nlp_pb2_grpc.NlpServiceStub(channel)
        model = common_pb2.ModelRef(name=model_name)
        await stub.Classify(nlp_pb2.ClassifyRequest(model=model, inputs=["warm"]), timeout=60)
        queue = iter(sentences)

        async def worker() -> None:
            for s in queue:
                t0 = time.perf_counter()
                await stub.Classify(nlp_pb2.ClassifyRequest(model=model, inputs=[s]), timeout=60)
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        rate = len(sentences) / (time.perf_counter() - start)
    return rate, float(np.percentile(latencies, 50)) * 1000


def classification(texts: int, rounds: int, engines: list[str]) -> dict[str, Any]:
    """In-process limits (eager, engine) and each engine served through the router."""
    from modelport.nlp.__main__ import default_models

    spec = default_models()[0].model_dump(mode="json", exclude_none=True)
    specs = {e: {**spec, "name": f"sentiment-{e}", "engine": e} for e in engines}
    workdir = Path(tempfile.mkdtemp(prefix="modelport-nlp-bench-"))
    processes, targets = start_per_engine("modelport.nlp", specs, workdir, threads=THREADS)
    limits: dict[str, list[float]] = {"eager": [], "engine": []}
    served: dict[str, list[float]] = {e: [] for e in engines}
    lone: dict[str, float] = {}
    try:
        local = {
            "eager": InProcessClassifier("torch"),
            "engine": InProcessClassifier("onnxruntime"),
        }

        def measure_limits() -> None:
            for name, model in local.items():
                limits[name].append(model.limit(make_sentences(texts, seed=3)))

        measure_limits()
        for e in engines:
            _, lone[e] = asyncio.run(
                classify_grpc(targets[e], f"sentiment-{e}", make_sentences(100, seed=4), 1)
            )
        for round_ in range(rounds):
            for e in engines:
                sentences = make_sentences(texts, seed=10 + round_)
                rate, _ = asyncio.run(classify_grpc(targets[e], f"sentiment-{e}", sentences, 32))
                served[e].append(rate)
            measure_limits()
    finally:
        for process in processes:
            process.stop()
    return summary("classify", "texts", 32, limits, served, lone)


QUESTIONS = [
    "Write a short story about a dragon.",
    "Explain how a bicycle works.",
    "Describe the ocean.",
    "Write a poem about autumn.",
    "Tell me about the history of Rome.",
    "Describe a city at night.",
    "Explain photosynthesis.",
    "Write a letter to a friend.",
]


async def generation(
    target: str, streams: int, tokens: int, chat: bool = False
) -> tuple[float, float]:
    """(aggregate tokens/s, median time to first token in ms) for `streams` at once:
    GenerateStream on gemma, or with `chat` ChatStream on the chat model."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = nlp_pb2_grpc.NlpServiceStub(channel)
        model = common_pb2.ModelRef(name=CHAT_MODEL if chat else "gemma-3-270m")
        parameters = nlp_pb2.GenerationParameters(max_new_tokens=tokens)
        first: list[float] = []
        produced: list[int] = []

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            got_first = False
            call: AsyncIterable[nlp_pb2.ChatStreamResponse | nlp_pb2.GenerateStreamResponse]
            if chat:
                message = nlp_pb2.ChatMessage(role="user", content=QUESTIONS[i % len(QUESTIONS)])
                request = nlp_pb2.ChatRequest(
                    model=model, messages=[message], parameters=parameters
                )
                call = stub.ChatStream(request, timeout=600)
            else:
                prompt = PROMPTS[i % len(PROMPTS)]
                call = stub.GenerateStream(
                    nlp_pb2.GenerateRequest(model=model, prompts=[prompt], parameters=parameters),
                    timeout=600,
                )
            async for chunk in call:
                if not got_first and chunk.text:
                    first.append(time.perf_counter() - t0)
                    got_first = True
                if chunk.finish_reason:
                    produced.append(chunk.usage.output_tokens)

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(streams)))
        elapsed = time.perf_counter() - start
        return sum(produced) / elapsed, float(np.median(first)) * 1000


def generation_figures() -> dict[str, float]:
    """Tokens/s and time to first token of gemma (GenerateStream) and the chat model."""
    server = ServiceProcess(
        "modelport.nlp", {**os.environ, "MODELPORT_TORCH_THREADS": str(THREADS)}, free_port()
    )
    server.start().wait_serving(900)
    results: dict[str, float] = {}
    try:
        for label, key, tokens, chat in (
            ("generate", "gen", 48, False),
            ("chat", "chat", 64, True),
        ):
            base = 0.0
            for streams in (1, 4, 8):
                rate, ttft = asyncio.run(generation(server.address, streams, tokens, chat))
                base = base or rate
                results[f"{key}_tokens_per_s_{streams}"] = rate
                results[f"{key}_ttft_ms_{streams}"] = ttft
                print(
                    f"{label}: {streams} streams {rate:.1f} tok/s aggregate "
                    f"({rate / base:.2f}x one stream), median time to first token {ttft:.0f} ms"
                )
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="classify,generate")
    parser.add_argument("--texts", type=int, default=1000, help="per served block")
    parser.add_argument("--rounds", type=int, default=2, help="served blocks per engine")
    parser.add_argument("--engines", default="torch,onnxruntime")
    args = parser.parse_args()
    parts = args.parts.split(",")
    results: dict[str, Any] = {}
    if "classify" in parts:
        results["classify"] = classification(args.texts, args.rounds, args.engines.split(","))
    if "generate" in parts:
        results.update(generation_figures())
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "nlp.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
