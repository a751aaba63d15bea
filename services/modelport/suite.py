"""The local suite behind `modelport up`: child processes, readiness, clean shutdown."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
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
    process: subprocess.Popen[bytes] | None = None


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
                with contextlib.suppress(grpc.FutureTimeoutError):
                    grpc.channel_ready_future(channel).result(timeout=min(left, 1.0))
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

    def wait_ready(self, host: str, timeout_s: float) -> list[str]:
        """Names of components that did not become SERVING in time (or exited)."""
        failed = []
        for c in self.components:
            ok = wait_serving(f"{host}:{c.port}", timeout_s)
            if not ok or (c.process is not None and c.process.poll() is not None):
                failed.append(c.name)
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
