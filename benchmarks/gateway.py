"""The HTTP gateway's cost: added latency at concurrency 1 and throughput at concurrency 32,
against gRPC straight to the router, in the same run.

One router, one embedding service (all-MiniLM-L6-v2, default engine) and the gateway, each
a process of its own on loopback. Two calls, each both ways:

- `embed`: one short sentence — gRPC `EmbeddingService/Embed` on the router vs
  `POST /v1/embeddings` (float encoding) on the gateway;
- `models`: no model work — gRPC `RegistryService/ListModels` vs `GET /v1/models`, so the
  gateway's own cost is not hidden behind the model's.

Concurrency 1: `CALLS_C1` calls in a row, p50 and p99. Concurrency 32: 32 threads, one
shared channel or HTTP connection pool, `CALLS_C32` calls in all; calls per second.
Writes benchmarks/results/gateway.json.

    .venv/bin/python benchmarks/gateway.py
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
import httpx

from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)

MODEL = "all-MiniLM-L6-v2"
TEXT = "serving models over http and grpc"
CALLS_C1 = 300
CALLS_C32 = 1600
CONCURRENCY = 32


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Callable[[], Any], count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return seconds


def throughput(call: Callable[[], Any], count: int) -> float:
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda _: call(), range(CONCURRENCY)))  # warm every thread
        start = time.perf_counter()
        list(pool.map(lambda _: call(), range(count)))
        return count / (time.perf_counter() - start)


def main() -> None:
    from tests.helpers import ServiceProcess, free_port

    workdir = Path(tempfile.mkdtemp(prefix="modelport-gateway-bench-"))
    env = {**os.environ, "MODELPORT_LOG_LEVEL": "WARNING"}
    router = ServiceProcess(
        "modelport.router", {**env, "MODELPORT_DATA_DIR": str(workdir / "router")}, free_port()
    )
    router.start().wait_serving()
    backend = ServiceProcess(
        "modelport.embedding", {**env, "MODELPORT_ROUTER_ADDRESS": router.address}, free_port()
    )
    http_port = free_port()
    gateway = subprocess.Popen(
        [sys.executable, "-m", "modelport.gateway"],
        env={
            **env,
            "MODELPORT_GATEWAY_HOST": "127.0.0.1",
            "MODELPORT_GATEWAY_PORT": str(http_port),
            "MODELPORT_GATEWAY_METRICS_PORT": "-1",
            "MODELPORT_GATEWAY_ROUTER_ADDRESS": router.address,
            "MODELPORT_GATEWAY_LOG_LEVEL": "WARNING",
        },
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        backend.start().wait_serving(300)
        from modelport.client import ModelportClient
        from modelport.suite import wait_http_ready

        with ModelportClient(router.address) as client:
            client.wait_for_models([MODEL])
        assert wait_http_ready(f"{base}/readyz", 60), "the gateway did not start"
        channel = grpc.insecure_channel(router.address)
        embed_stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        registry_stub = registry_pb2_grpc.RegistryServiceStub(channel)
        request = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=MODEL), inputs=[TEXT])
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        http = httpx.Client(base_url=base, timeout=60, limits=limits)

        def http_embed() -> None:
            response = http.post("/v1/embeddings", json={"model": MODEL, "input": TEXT})
            response.raise_for_status()

        def http_models() -> None:
            http.get("/v1/models").raise_for_status()

        calls: dict[str, dict[str, Callable[[], Any]]] = {
            "embed": {
                "grpc": lambda: embed_stub.Embed(request, timeout=60),
                "http": http_embed,
            },
            "models": {
                "grpc": lambda: registry_stub.ListModels(
                    registry_pb2.ListModelsRequest(), timeout=60
                ),
                "http": http_models,
            },
        }
        results: dict[str, Any] = {}
        for name, ways in calls.items():
            for call in ways.values():
                timed(call, 30)  # warm-up
            c1 = {way: timed(call, CALLS_C1) for way, call in ways.items()}
            c32 = {way: throughput(call, CALLS_C32) for way, call in ways.items()}
            row: dict[str, Any] = {
                "c1_p50_ms": {w: statistics.median(s) * 1e3 for w, s in c1.items()},
                "c1_p99_ms": {w: percentile(s, 0.99) * 1e3 for w, s in c1.items()},
                "c32_calls_per_s": c32,
            }
            row["added_p50_ms"] = row["c1_p50_ms"]["http"] - row["c1_p50_ms"]["grpc"]
            row["c32_http_over_grpc"] = c32["http"] / c32["grpc"]
            results[name] = row
            print(name, json.dumps(row))
        out = Path(__file__).resolve().parent / "results"
        out.mkdir(exist_ok=True)
        (out / "gateway.json").write_text(json.dumps(results, indent=2))
        http.close()
        channel.close()
    finally:
        gateway.terminate()
        gateway.wait(30)
        backend.stop()
        router.stop()


if __name__ == "__main__":
    main()
