"""The local suite behind `modelport up`: child processes, readiness, clean shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


@dataclass
class Component:
    """One process of the suite."""

    name: str
    args: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    """Models it serves, which the router must list before the suite is ready."""
    process: subprocess.Popen[bytes] | None = None


def local_suite(host: str, port: int, metrics_port: int, data_dir: str) -> list[Component]:
    """The router on `port` and each backend on the next ports, registering with it.

    Metrics: the router on `metrics_port`, backends on the following ports.
    """
    router = f"{host}:{port}"
    common = {"MODELPORT_HOST": host, "MODELPORT_LOG_LEVEL": "WARNING"}
    components = [
        Component(
            "router",
            ["-m", "modelport.router"],
            port,
            {
                **common,
                "MODELPORT_PORT": str(port),
                "MODELPORT_METRICS_PORT": str(metrics_port),
                "MODELPORT_DATA_DIR": data_dir,
            },
        ),
    ]
    backends = [
        ("embedding", ["all-MiniLM-L6-v2"]),
        ("nlp", ["sentiment", "gemma-3-270m"]),
        ("vision", ["efficientnet-lite0"]),
    ]
    for offset, (name, models) in enumerate(backends, start=1):
        components.append(
            Component(
                name,
                ["-m", f"modelport.{name}"],
                port + offset,
                {
                    **common,
                    "MODELPORT_PORT": str(port + offset),
                    "MODELPORT_METRICS_PORT": str(metrics_port + offset),
                    "MODELPORT_ROUTER_ADDRESS": router,
                },
                models,
            )
        )
    return components


def wait_serving(target: str, timeout_s: float, service: str = "") -> bool:
    """Block until `target` reports SERVING for `service` (watching, not polling)."""
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while (left := deadline - time.monotonic()) > 0:
            try:
                for update in stub.Watch(
                    health_pb2.HealthCheckRequest(service=service), timeout=left
                ):
                    if update.status == health_pb2.HealthCheckResponse.SERVING:
                        return True
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    return False
                # not listening yet: wait for the channel to connect, then watch again
                ready = grpc.channel_ready_future(channel)
                try:
                    ready.result(timeout=min(left, 1.0))
                except grpc.FutureTimeoutError:
                    ready.cancel()  # stop its connectivity polling before the channel closes
    return False


class Suite:
    """Starts components as child processes and stops them all, whatever happens."""

    def __init__(self, components: list[Component]) -> None:
        self.components = components
        self._stop = threading.Event()

    def start(self) -> None:
        for c in self.components:
            env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **c.env}
            c.process = subprocess.Popen([sys.executable, *c.args], env=env)

    def wait_ready(
        self, host: str, timeout_s: float, progress: Callable[[str], None] | None = None
    ) -> list[str]:
        """Names of components that did not become SERVING in time (or exited)."""
        failed = []
        start = time.monotonic()
        for c in self.components:
            left = max(0.0, timeout_s - (time.monotonic() - start))
            ok = wait_serving(f"{host}:{c.port}", left)
            if not ok or (c.process is not None and c.process.poll() is not None):
                failed.append(c.name)
            elif progress is not None:
                progress(
                    f"  {c.name:10} SERVING on {host}:{c.port} ({time.monotonic() - start:.1f}s)"
                )
        return failed

    def run_until_signal(self) -> int:
        """Wait for Ctrl-C/SIGTERM or for a component to exit; return an exit code."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        exited: list[Component] = []

        def watch(component: Component) -> None:
            assert component.process is not None
            component.process.wait()
            exited.append(component)
            self._stop.set()

        for c in self.components:
            threading.Thread(target=watch, args=(c,), daemon=True).start()
        self._stop.wait()
        for c in exited:
            assert c.process is not None
            print(f"{c.name} exited with {c.process.returncode}", file=sys.stderr)
        return 1 if exited else 0

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM every child (they drain), then SIGKILL whatever is left after `grace_s`."""
        for c in self.components:
            if c.process is not None and c.process.poll() is None:
                c.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for c in self.components:
            if c.process is None:
                continue
            try:
                c.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.process.kill()
                c.process.wait()
