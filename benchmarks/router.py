"""What the router adds: latency per call and CPU per call (its passthrough capacity).

Same run: one embedding replica (all-MiniLM-L6-v2, 2 torch threads) registered with a
router. Calls of one sentence go direct to the replica and through the router,
alternating in blocks, at concurrency 1 (added p50/p99) and 32 (throughput). The router's
own CPU time per call gives its passthrough rate per core, compared with the replica's
request rate. Writes benchmarks/results/router.json.

    .venv/bin/python benchmarks/router.py [--calls 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc

from benchmarks.embedding import free_port, make_sentences
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc
from tests.helpers import ServiceProcess

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def run(target: str, sentences: list[str], concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        model = common_pb2.ModelRef(name="all-MiniLM-L6-v2")
        await stub.Embed(embedding_pb2.EmbedRequest(model=model, inputs=["warm"]), timeout=30)
        queue = iter(sentences)

        async def worker() -> None:
            for s in queue:
                t0 = time.perf_counter()
                await stub.Embed(embedding_pb2.EmbedRequest(model=model, inputs=[s]), timeout=60)
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


async def minimal_proxy_floor(calls: int) -> tuple[float, float]:
    """p50 ms of an echo call direct and through a minimal grpc.aio proxy, in this process:
    the least any Python gRPC hop adds on this machine."""

    async def echo(request: bytes, context: object) -> bytes:
        return request

    def generic(handler: Callable[..., Any]) -> grpc.GenericRpcHandler:  # type: ignore[type-arg]
        return grpc.method_handlers_generic_handler(
            "bench.Echo", {"Call": grpc.unary_unary_rpc_method_handler(handler)}
        )

    backend = grpc.aio.server()
    backend.add_generic_rpc_handlers((generic(echo),))
    backend_port = backend.add_insecure_port("127.0.0.1:0")
    await backend.start()
    upstream = grpc.aio.insecure_channel(f"127.0.0.1:{backend_port}")
    forward_call = upstream.unary_unary("/bench.Echo/Call", None, None)

    async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:  # type: ignore[type-arg]
        return await forward_call(request, timeout=context.time_remaining())  # type: ignore[no-any-return]

    proxy = grpc.aio.server()
    proxy.add_generic_rpc_handlers((generic(forward),))
    proxy_port = proxy.add_insecure_port("127.0.0.1:0")
    await proxy.start()
    direct_lat, proxied_lat = [], []
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{backend_port}") as direct_channel,
        grpc.aio.insecure_channel(f"127.0.0.1:{proxy_port}") as proxy_channel,
    ):
        direct = direct_channel.unary_unary("/bench.Echo/Call", None, None)
        proxied = proxy_channel.unary_unary("/bench.Echo/Call", None, None)
        payload = b"x" * 64
        for _ in range(calls):
            t0 = time.perf_counter()
            await direct(payload, timeout=5)
            direct_lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await proxied(payload, timeout=5)
            proxied_lat.append(time.perf_counter() - t0)
    await upstream.close(None)
    await proxy.stop(None)
    await backend.stop(None)
    return float(np.percentile(direct_lat, 50)) * 1000, float(np.percentile(proxied_lat, 50)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=600)
    args = parser.parse_args()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
    data = tempfile.mkdtemp(prefix="modelport-bench-")
    router = ServiceProcess("modelport.router", {**env, "MODELPORT_DATA_DIR": data}, free_port())
    backend = ServiceProcess(
        "modelport.embedding",
        {**env, "MODELPORT_ROUTER_ADDRESS": router.address, "MODELPORT_TORCH_THREADS": "2"},
        free_port(),
    )
    router.start().wait_serving()
    backend.start().wait_serving()
    sentences = make_sentences(args.calls)
    results: dict[str, object] = {}
    try:
        assert router.process is not None
        direct_lat: list[float] = []
        routed_lat: list[float] = []
        block = 50
        for i in range(0, len(sentences), block):  # alternate to share the machine's drift
            direct_lat += asyncio.run(run(backend.address, sentences[i : i + block], 1))[1]
            routed_lat += asyncio.run(run(router.address, sentences[i : i + block], 1))[1]
        d50, d99 = (float(np.percentile(direct_lat, q)) * 1000 for q in (50, 99))
        r50, r99 = (float(np.percentile(routed_lat, q)) * 1000 for q in (50, 99))
        print(
            f"concurrency 1: direct p50 {d50:.2f} ms p99 {d99:.2f} ms; "
            f"router p50 {r50:.2f} ms p99 {r99:.2f} ms; "
            f"added p50 {r50 - d50:+.2f} ms p99 {r99 - d99:+.2f} ms"
        )
        floor_direct, floor_proxied = asyncio.run(minimal_proxy_floor(args.calls))
        print(
            f"baseline, minimal grpc.aio echo proxy in-process: direct p50 "
            f"{floor_direct:.2f} ms, proxied {floor_proxied:.2f} ms, "
            f"added {floor_proxied - floor_direct:+.2f} ms"
        )
        many = make_sentences(2000, seed=11)
        direct_s, _ = asyncio.run(run(backend.address, many, 32))
        cpu0 = cpu_seconds(router.process.pid)
        routed_s, _ = asyncio.run(run(router.address, many, 32))
        router_cpu = cpu_seconds(router.process.pid) - cpu0
        per_call_us = router_cpu / len(many) * 1e6
        passthrough = 1e6 / per_call_us
        replica_rate = len(many) / direct_s
        print(
            f"concurrency 32: direct {replica_rate:.1f} calls/s, "
            f"through router {len(many) / routed_s:.1f} calls/s"
        )
        print(
            f"router CPU per call {per_call_us:.0f} us -> passthrough ~{passthrough:.0f} calls/s "
            f"per core = {passthrough / replica_rate:.1f}x one replica's rate"
        )
        results = {
            "direct_p50_ms": d50,
            "direct_p99_ms": d99,
            "router_p50_ms": r50,
            "router_p99_ms": r99,
            "added_p50_ms": r50 - d50,
            "added_p99_ms": r99 - d99,
            "minimal_proxy_added_p50_ms": floor_proxied - floor_direct,
            "replica_calls_per_s": replica_rate,
            "routed_calls_per_s": len(many) / routed_s,
            "router_cpu_us_per_call": per_call_us,
            "passthrough_per_core": passthrough,
        }
    finally:
        backend.stop()
        router.stop()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "router.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
