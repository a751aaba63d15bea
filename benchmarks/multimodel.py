"""More models than memory: load latency, cache-miss cost and hit rate under a Zipf mix.

One router and two embedding backends on loopback. Twelve small embedding models (a
2-layer BERT, ~4 MB of weights each, made here with random weights) are in both backends'
catalogues as `load: on_demand`; each backend's memory budget holds three of them, so the
cluster holds six of twelve at once. Calls of one sentence name a model drawn from a Zipf
distribution (exponent 1.1: the most popular model gets ~30 % of the calls) and go through
the router at concurrency 4. The same calls then run against the same cluster restarted
with no budget after every model was loaded once (all resident, every call a hit): the
baseline the miss cost is compared with. Figures come from the processes' own Prometheus
metrics (router: cache misses and the time calls waited for a load; backends: load
latency) and from the client's per-call latencies. Writes benchmarks/results/multimodel.json.

    .venv/bin/python benchmarks/multimodel.py [--calls 600] [--models 12] [--room 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
import yaml

from benchmarks.embedding import free_port, make_sentences
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.helpers import ServiceProcess

CONCURRENCY = 4
ZIPF_S = 1.1


def make_fleet(root: Path, count: int) -> list[Path]:
    """`count` 2-layer BERTs (width 192) in sentence-transformers layout, one tokenizer."""
    import shutil

    import torch
    from transformers import BertModel

    from tests.conftest import bert_config, build_wordpiece_tokenizer, save_sentence_bert

    tokenizer = root / "tokenizer"
    tokenizer.mkdir()
    config = bert_config(build_wordpiece_tokenizer(tokenizer), hidden=192)
    folders = []
    for index in range(count):
        out = root / f"model-{index}"
        shutil.copytree(tokenizer, out)
        torch.manual_seed(index)
        save_sentence_bert(BertModel(config), out)
        folders.append(out)
    return folders


def lru_hit_rate(names: list[str], slots: int) -> float:
    """Hit rate of one ideal LRU cache of `slots` models over the call sequence, run
    sequentially (no concurrency, loads take no time): the reference the cluster's hit
    rate is compared with."""
    cache: list[str] = []
    hits = 0
    for name in names:
        if name in cache:
            hits += 1
            cache.remove(name)
        elif len(cache) == slots:
            cache.pop(0)
        cache.append(name)
    return hits / len(names)


def metrics(process: ServiceProcess) -> dict[str, float]:
    url = f"http://127.0.0.1:{process.metrics_port}/metrics"
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    samples: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def total(samples: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in samples.items() if k.startswith(prefix))


async def run(target: str, calls: list[tuple[str, str]]) -> list[float]:
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        queue = iter(calls)

        async def worker() -> None:
            for name, sentence in queue:
                request = embedding_pb2.EmbedRequest(
                    model=common_pb2.ModelRef(name=name), inputs=[sentence]
                )
                t0 = time.perf_counter()
                await stub.Embed(request, timeout=120)
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return latencies


class Cluster:
    """A router and two backends serving `catalogue`, with `budget` bytes each (None: no
    budget)."""

    def __init__(self, work: Path, catalogue: Path, budget: int | None) -> None:
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
        self.router = ServiceProcess(
            "modelport.router",
            {**env, "MODELPORT_DATA_DIR": str(work / f"data-{budget}")},
            free_port(),
            free_port(),
        )
        extra = {"MODELPORT_MEMORY_BUDGET": str(budget)} if budget else {}
        self.backends = [
            ServiceProcess(
                "modelport.embedding",
                {
                    **env,
                    "MODELPORT_ROUTER_ADDRESS": self.router.address,
                    "MODELPORT_MODELS_FILE": str(catalogue),
                    "MODELPORT_TORCH_THREADS": "1",
                    **extra,
                },
                free_port(),
                free_port(),
            )
            for _ in range(2)
        ]

    def __enter__(self) -> Cluster:
        self.router.start().wait_serving()
        for backend in self.backends:
            backend.start()
        for backend in self.backends:
            backend.wait_serving()
        stub = registry_pb2_grpc.RegistryServiceStub(grpc.insecure_channel(self.router.address))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            models = stub.ListModels(registry_pb2.ListModelsRequest(), timeout=5).models
            if sum(len(v.replicas) for m in models for v in m.versions) == 2 * len(models) > 0:
                break
            time.sleep(0.2)
        return self

    def __exit__(self, *_: object) -> None:
        for process in (*self.backends, self.router):
            process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--room", type=float, default=3.0, help="models per backend budget")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="modelport-multimodel-"))
    folders = make_fleet(work, args.models)
    names = [f"m{i}" for i in range(args.models)]
    size = (folders[0] / "model.safetensors").stat().st_size
    catalogue = work / "catalogue.yaml"
    catalogue.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": name,
                        "runtime": "sentence-embedding",
                        "path": str(folder),
                        "engine": "torch",
                        "load": "on_demand",
                    }
                    for name, folder in zip(names, folders, strict=True)
                ]
            }
        )
    )
    rng = random.Random(3)
    weights = [1 / (rank + 1) ** ZIPF_S for rank in range(len(names))]
    sentences = make_sentences(args.calls)
    calls = [(rng.choices(names, weights)[0], s) for s in sentences]
    results: dict[str, object] = {
        "models": args.models,
        "model_bytes": size,
        "budget_models_per_backend": args.room,
        "calls": args.calls,
        "concurrency": CONCURRENCY,
        "zipf_s": ZIPF_S,
    }

    budget = int(args.room * size)
    with Cluster(work, catalogue, budget) as cluster:
        started = time.perf_counter()
        latencies = asyncio.run(run(cluster.router.address, calls))
        elapsed = time.perf_counter() - started
        router = metrics(cluster.router)
        backends = [metrics(b) for b in cluster.backends]
    misses = total(router, "modelport_router_cache_misses_total")
    miss_wait = total(router, "modelport_router_cache_miss_seconds_sum") / max(
        total(router, "modelport_router_cache_miss_seconds_count"), 1
    )
    loads = sum(total(b, "modelport_model_load_duration_seconds_count") for b in backends)
    load_s = sum(total(b, "modelport_model_load_duration_seconds_sum") for b in backends)
    evictions = sum(total(b, "modelport_model_evictions_total") for b in backends)
    p50, p99 = (float(np.percentile(latencies, q)) * 1000 for q in (50, 99))

    with Cluster(work, catalogue, None) as cluster:  # every model resident: all hits
        asyncio.run(run(cluster.router.address, [(n, "warm") for n in names]))
        resident = asyncio.run(run(cluster.router.address, calls))
    r50, r99 = (float(np.percentile(resident, q)) * 1000 for q in (50, 99))

    ideal = lru_hit_rate([n for n, _ in calls], 2 * int(args.room))
    results |= {
        "hit_rate": 1 - misses / len(calls),
        "ideal_lru_hit_rate": ideal,
        "misses": misses,
        "loads": loads,
        "evictions": evictions,
        "load_latency_mean_ms": load_s / max(loads, 1) * 1000,
        "miss_wait_mean_ms": miss_wait * 1000,
        "budgeted_p50_ms": p50,
        "budgeted_p99_ms": p99,
        "budgeted_calls_per_s": len(calls) / elapsed,
        "resident_p50_ms": r50,
        "resident_p99_ms": r99,
        "miss_cost_vs_resident_p50": miss_wait * 1000 / r50,
    }
    print(
        f"{args.models} models of {size / 2**20:.1f} MiB, room for {args.room:g} per backend "
        f"x 2 backends; {len(calls)} calls, Zipf s={ZIPF_S}, concurrency {CONCURRENCY}"
    )
    print(
        f"hit rate {results['hit_rate']:.1%} ({misses:.0f} misses), {loads:.0f} loads, "
        f"{evictions:.0f} evictions; one ideal LRU of {2 * int(args.room)} models over the "
        f"same sequence: {ideal:.1%}"
    )
    print(
        f"load latency (backend, from its turn to READY: evictions, weights, warm-up) mean "
        f"{results['load_latency_mean_ms']:.0f} ms; a miss waited {miss_wait * 1000:.0f} ms "
        f"on average = {results['miss_cost_vs_resident_p50']:.0f}x a resident call's p50"
    )
    print(
        f"latency with the budget p50 {p50:.1f} ms p99 {p99:.1f} ms; all resident p50 "
        f"{r50:.1f} ms p99 {r99:.1f} ms"
    )
    out = Path(__file__).parent / "results" / "multimodel.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
