"""Run a real InferenceServer on loopback in a background thread with its own loop."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import yaml

from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec, ServerSettings

if TYPE_CHECKING:
    from modelport.router.__main__ import RouterServer

S = TypeVar("S", bound=ServerSettings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_run(count: int) -> int:
    """The first of `count` consecutive loopback ports free to listen on (`modelport up`
    takes runs of ports from its `--port` and `--metrics-port`). Chosen below the kernel's
    ephemeral range: a port there may be taken by any outgoing connection between this
    check and its use, as `free_port()`'s next ones may."""
    import random

    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(500):
        base = random.randrange(10_000, low - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sockets.append(socket.socket())
                sockets[-1].bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return base
    raise RuntimeError(f"no {count} consecutive free ports below {low}")


@contextmanager
def running_server(
    build: Callable[[S], InferenceServer],
    settings: S,
    models: Sequence[ModelSpec],
) -> Iterator[InferenceServer]:
    """Start the server, load `models`, yield it; stop it gracefully on exit."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, InferenceServer] = {}
    errors: list[BaseException] = []

    async def start() -> None:
        server = build(settings)
        await server.start()
        await server.load_models(models)
        holder["server"] = server

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:
            errors.append(exc)
        ready.set()
        if not errors:
            loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(300)
    if errors:
        raise errors[0]
    server = holder["server"]
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(grace=5), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def loopback_settings(settings_type: type[S], **overrides: object) -> S:
    """Loopback, free port, no metrics port unless asked."""
    values: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "metrics_port": -1}
    values.update(overrides)
    return settings_type(**values)


class ServiceProcess:
    """A Modelport service (`python -m modelport.<name>`) as a child process."""

    def __init__(self, module: str, env: dict[str, str], port: int, metrics_port: int = -1) -> None:
        self.module = module
        self.port = port
        self.metrics_port = metrics_port
        self.env = {
            **env,
            "MODELPORT_HOST": "127.0.0.1",
            "MODELPORT_PORT": str(port),
            "MODELPORT_METRICS_PORT": str(metrics_port),
            "MODELPORT_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        self.process = subprocess.Popen([sys.executable, "-m", self.module], env=self.env)
        return self

    def wait_serving(self, timeout_s: float = 120) -> ServiceProcess:
        from modelport.suite import wait_serving

        assert wait_serving(self.address, timeout_s), f"{self.module} on {self.address} not ready"
        return self

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def stop(self, timeout_s: float = 30) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def served_calls(self, method: str = "/modelport.v1.EmbeddingService/Embed") -> float:
        """Successful calls of `method` this process answered (from its /metrics)."""
        body = (
            urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5)
            .read()
            .decode()
        )
        total = 0.0
        for line in body.splitlines():
            if line.startswith("modelport_request_duration_seconds_count{") and (
                f'method="{method}"' in line and 'code="OK"' in line
            ):
                total += float(line.rsplit(" ", 1)[1])
        return total


def scrape_until(metrics_port: int, *wanted: str, timeout_s: float = 10) -> str:
    """The `/metrics` body once it holds every line of `wanted`. A call that fails with
    `context.abort` sends its status before the server's interceptor observes its duration,
    so a scrape right after the client sees the error may precede it: scrape again until
    the lines are there, or fail naming the missing ones."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        body: str = (
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            .read()
            .decode()
        )
        missing = [line for line in wanted if line not in body]
        if not missing:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"not in /metrics after {timeout_s} s: {missing}")
        time.sleep(0.05)


def models_file(path: Path, *models: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({"models": list(models)}))
    return path


def rpc_error(call: Callable[[], object]) -> grpc.Call:
    """The gRPC error `call` raises (the test fails if it does not raise one)."""
    import pytest

    with pytest.raises(grpc.RpcError) as info:
        call()
    assert isinstance(info.value, grpc.Call)
    return info.value


async def aio_code(call: Any) -> grpc.StatusCode:
    """The status an awaited grpc.aio call (or read) ends with: OK, or its error's code."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def start_router(tmp_path: Path, **settings: object) -> RouterServer:
    """A router in this process on a free loopback port (data under `tmp_path`)."""
    from modelport.router.__main__ import RouterServer
    from modelport.router.settings import RouterSettings

    router = RouterServer(
        RouterSettings(
            host="127.0.0.1",
            port=0,
            metrics_port=-1,
            data_dir=tmp_path / "data",
            **{"grace_period_s": 0, **settings},  # type: ignore[arg-type]
        )
    )
    await router.start()
    return router


@contextmanager
def static_router(data_dir: Path, replicas: list[dict[str, str]]) -> Iterator[ServiceProcess]:
    """A router process whose replicas are `replicas` (`MODELPORT_STATIC_REPLICAS`):
    yields it once it is SERVING (`.address` is its `host:port`), stops it on exit."""
    import json
    import os

    process = ServiceProcess(
        "modelport.router",
        {
            **os.environ,
            "MODELPORT_DATA_DIR": str(data_dir),
            "MODELPORT_STATIC_REPLICAS": json.dumps(replicas),
        },
        free_port(),
    ).start()
    try:
        process.wait_serving()
        yield process
    finally:
        process.stop()


class RecordingReplica:
    """A replica stand-in on loopback that records the metadata of every call and answers
    Embed and EmbedStream with an empty response."""

    def __init__(self) -> None:
        from concurrent import futures

        from modelport.v1 import embedding_pb2

        self.metadata: list[dict[str, str | bytes]] = []
        self.streamed: list[bytes] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(4))

        def embed(request: bytes, context: grpc.ServicerContext) -> bytes:
            self.metadata.append(dict(context.invocation_metadata()))
            return embedding_pb2.EmbedResponse().SerializeToString()

        def embed_stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> Any:
            self.metadata.append(dict(context.invocation_metadata()))
            for request in requests:
                self.streamed.append(request)
                yield embedding_pb2.EmbedResponse().SerializeToString()

        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "modelport.v1.EmbeddingService",
                    {
                        "Embed": grpc.unary_unary_rpc_method_handler(embed),
                        "EmbedStream": grpc.stream_stream_rpc_method_handler(embed_stream),
                    },
                ),
            )
        )
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()


def retry_delay(error: grpc.Call) -> float | None:
    """The `google.rpc.RetryInfo` delay a status carries, in seconds (None without one)."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return float(info.retry_delay.ToNanoseconds()) / 1e9
    return None
