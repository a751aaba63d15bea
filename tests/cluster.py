"""A router with backend processes on loopback: start them, wait for registrations, call
them. Shared by the router, fault and overload tests."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.helpers import ServiceProcess, free_port, models_file

MODEL = "m"


def router_process(
    env: dict[str, str], data_dir: Path, port: int | None = None, **extra: str
) -> ServiceProcess:
    return ServiceProcess(
        "modelport.router",
        {**env, "MODELPORT_DATA_DIR": str(data_dir), "MODELPORT_LEASE_TTL_S": "3", **extra},
        port or free_port(),
        free_port(),
    )


def backend_process(
    env: dict[str, str],
    router: ServiceProcess,
    model_file: Path,
    port: int | None = None,
    **extra: str,
) -> ServiceProcess:
    return ServiceProcess(
        "modelport.embedding",
        {
            **env,
            "MODELPORT_ROUTER_ADDRESS": router.address,
            "MODELPORT_MODELS_FILE": str(model_file),
            "MODELPORT_LEASE_TTL_S": "3",
            "MODELPORT_TORCH_THREADS": "1",
            **extra,
        },
        port or free_port(),
        free_port(),
    )


def tiny(tmp_path: Path, tiny_bert_dir: Path, version: str = "1", name: str = MODEL) -> Path:
    return models_file(
        tmp_path / f"{name}-{version}.yaml",
        {
            "name": name,
            "version": version,
            "runtime": "sentence-embedding",
            "path": str(tiny_bert_dir),
        },
    )


def minilm(tmp_path: Path, minilm_dir: Path, **batching: int) -> Path:
    """A models file serving all-MiniLM-L6-v2 as model `m` with these batching settings."""
    return models_file(
        tmp_path / "minilm.yaml",
        {
            "name": MODEL,
            "runtime": "sentence-embedding",
            "path": str(minilm_dir),
            "batching": batching,
        },
    )


def registry(router: ServiceProcess) -> registry_pb2_grpc.RegistryServiceStub:
    return registry_pb2_grpc.RegistryServiceStub(grpc.insecure_channel(router.address))


def embedding(router: ServiceProcess) -> embedding_pb2_grpc.EmbeddingServiceStub:
    return embedding_pb2_grpc.EmbeddingServiceStub(grpc.insecure_channel(router.address))


def request(version: str = "", name: str = MODEL) -> embedding_pb2.EmbedRequest:
    return embedding_pb2.EmbedRequest(
        model=common_pb2.ModelRef(name=name, version=version), inputs=["route me"]
    )


def wait_replicas(
    router: ServiceProcess,
    count: int,
    name: str = MODEL,
    timeout_s: float = 60,
    state: common_pb2.ModelState.ValueType = common_pb2.MODEL_STATE_READY,
) -> None:
    """Watch the registry until `name` has `count` replicas in `state` (over all versions)."""
    events = registry(router).WatchModels(
        registry_pb2.WatchModelsRequest(name=name), timeout=timeout_s
    )
    for event in events:
        ready = sum(r.state == state for v in event.model.versions for r in v.replicas)
        if ready == count:
            events.cancel()  # type: ignore[no-untyped-call]
            return


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Poll `condition` until it holds. `timeout_s` only bounds the wait, generously: the
    test asserts that the thing happens, never how fast."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: still not the case after {timeout_s} s"
        time.sleep(0.1)


def stop_all(*processes: ServiceProcess) -> None:
    for p in processes:
        p.stop()


def router_metrics(router: ServiceProcess) -> dict[str, float]:
    """Samples of the router's /metrics, by `name{labels}`."""
    body = (
        urllib.request.urlopen(f"http://127.0.0.1:{router.metrics_port}/metrics", timeout=5)
        .read()
        .decode()
    )
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


@dataclass(frozen=True)
class Outcome:
    """One call of a `Load`: when it started and ended (time.monotonic()) and its status."""

    started: float
    ended: float
    code: grpc.StatusCode


class Load:
    """`workers` threads making `call()` back to back until the block ends; keeps every
    outcome. A failed call is followed by a 10 ms pause, so a dead server is not spun on."""

    def __init__(self, call: Callable[[], object], workers: int = 8) -> None:
        self._call = call
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work) for _ in range(workers)]
        self.outcomes: list[Outcome] = []

    def _work(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._call()
                code = grpc.StatusCode.OK
            except grpc.RpcError as error:
                code = error.code()
            self.outcomes.append(Outcome(started, time.monotonic(), code))
            if code != grpc.StatusCode.OK:
                self._stop.wait(0.01)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.code != grpc.StatusCode.OK]

    def succeeded_after(self, moment: float) -> int:
        """Calls that started after `moment` and succeeded."""
        return sum(o.started > moment and o.code == grpc.StatusCode.OK for o in self.outcomes)
