"""Fairness: how long one caller's single-sentence call takes while another caller's huge
call is served, against the same call on an idle service, in one run.

One router and one embedding service (all-MiniLM-L6-v2, default engine). Caller B sends
one sentence per call, back to back. Measured: B idle; B while caller A's one call of
1,024 inputs of about 50 words runs (the security review's M3: B waited 16 s behind it);
B while A's one call carries a text of just under the 1 MiB input limit (H3: 22 s for a
16 MiB text). Reported: B's p50 and max as multiples of its idle p50, and how many of B's
calls were answered while A's call was still running. Writes
benchmarks/results/fairness.json.

    .venv/bin/python benchmarks/fairness.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc

from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc

MODEL = "all-MiniLM-L6-v2"
SENTENCE = "serving models over grpc keeps latency low while batching raises throughput "


def call(stub: Any, inputs: list[str]) -> float:
    start = time.perf_counter()
    stub.Embed(
        embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=MODEL), inputs=inputs),
        timeout=600,
    )
    return time.perf_counter() - start


def beside(stub: Any, huge: list[str]) -> dict[str, Any]:
    """B's calls while A's `huge` call runs."""
    done = threading.Event()
    a_seconds: list[float] = []

    def caller_a() -> None:
        a_seconds.append(call(stub, huge))
        done.set()

    thread = threading.Thread(target=caller_a)
    thread.start()
    time.sleep(0.2)  # A's call is in (tokenising or on the model)
    during: list[float] = []
    while not done.is_set():
        seconds = call(stub, ["hello there"])
        if not done.is_set():
            during.append(seconds)
    thread.join()
    return {"a_seconds": a_seconds[0], "b_during": during}


def main() -> None:
    from tests.helpers import ServiceProcess, free_port

    workdir = Path(tempfile.mkdtemp(prefix="modelport-fairness-"))
    env = {**os.environ, "MODELPORT_LOG_LEVEL": "WARNING"}
    router = ServiceProcess(
        "modelport.router", {**env, "MODELPORT_DATA_DIR": str(workdir / "router")}, free_port()
    )
    router.start().wait_serving()
    backend = ServiceProcess(
        "modelport.embedding", {**env, "MODELPORT_ROUTER_ADDRESS": router.address}, free_port()
    )
    try:
        backend.start().wait_serving(300)
        channel = grpc.insecure_channel(
            router.address, options=[("grpc.max_send_message_length", 64 << 20)]
        )
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        deadline = time.monotonic() + 60
        while True:  # the backend registers with the router within a lease
            try:
                call(stub, ["warm"])
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        idle = [call(stub, ["hello there"]) for _ in range(30)]
        idle_p50 = statistics.median(idle)
        results: dict[str, Any] = {"idle_p50_s": idle_p50}
        cases = {
            "1024_inputs": [SENTENCE * 4] * 1024,
            "1_MiB_text": ["word " * (1024 * 1024 // 5 - 10)],
        }
        for name, huge in cases.items():
            run = beside(stub, huge)
            during = run["b_during"]
            results[name] = {
                "a_seconds": run["a_seconds"],
                "b_calls_while_a_ran": len(during),
                "b_p50_x_idle": statistics.median(during) / idle_p50 if during else None,
                "b_max_x_idle": max(during) / idle_p50 if during else None,
            }
            print(name, json.dumps(results[name]))
        print(f"B idle p50 {idle_p50 * 1e3:.1f} ms")
        out = Path(__file__).resolve().parent / "results"
        out.mkdir(exist_ok=True)
        (out / "fairness.json").write_text(json.dumps(results, indent=2))
    finally:
        backend.stop()
        router.stop()


if __name__ == "__main__":
    main()
