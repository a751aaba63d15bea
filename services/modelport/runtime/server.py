"""`InferenceServer`: the grpc.aio server every inference service runs.

It carries the error interceptor, `grpc.health.v1` (overall, per service and per model:
`model/<name>`), reflection, message-size and keepalive options, the Prometheus
endpoint, and graceful shutdown: on SIGTERM/SIGINT health turns NOT_SERVING, new calls
are refused, in-flight calls finish within `grace_period_s`, then the models unload.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from modelport.runtime.interceptors import ErrorInterceptor
from modelport.runtime.metrics import Metrics
from modelport.runtime.repository import ManagedModel, ModelRepository, ModelState
from modelport.runtime.settings import ModelSpec, ServerSettings

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class ServiceBinding:
    """A gRPC service to serve: its full name and the generated `add_..._to_server`."""

    name: str
    register: Callable[[grpc.aio.Server], None]


def health_name(model_name: str) -> str:
    """The grpc.health.v1 service name that reports one model."""
    return f"model/{model_name}"


def grpc_options(settings: ServerSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.keepalive_time_ms", int(settings.keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * 1000)),
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.so_reuseport", 0),
    ]


class InferenceServer:
    """One inference process: gRPC server, health, metrics, model repository."""

    def __init__(
        self,
        settings: ServerSettings,
        repository: ModelRepository,
        services: Sequence[ServiceBinding],
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.metrics = metrics
        self._services = list(services)
        self._health = HealthServicer()
        self._server: grpc.aio.Server | None = None
        self._metrics_server: object | None = None
        self._stopping = False
        self.port = 0
        self.metrics_port = 0
        repository.add_listener(self._on_model_change)

    async def start(self) -> None:
        """Bind and start serving (health NOT_SERVING until `load_models` finishes)."""
        server = grpc.aio.server(
            interceptors=[ErrorInterceptor(self.metrics)], options=grpc_options(self.settings)
        )
        for service in self._services:
            service.register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = [s.name for s in self._services]
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        for name in ["", *names]:
            await self._health.set(name, NOT_SERVING)
        self.port = server.add_insecure_port(f"{self.settings.host}:{self.settings.port}")
        if self.port == 0:
            raise OSError(f"cannot bind {self.settings.host}:{self.settings.port}")
        await server.start()
        self._server = server
        if self.settings.metrics_port >= 0:
            http_server, _ = self.metrics.serve_http(self.settings.host, self.settings.metrics_port)
            self._metrics_server = http_server
            self.metrics_port = http_server.server_port  # type: ignore[attr-defined]
        log.info("gRPC listening on %s:%d", self.settings.host, self.port)

    async def load_models(self, specs: Sequence[ModelSpec]) -> None:
        """Load (and warm up) every model concurrently, then report SERVING."""
        await self.repository.load_all(specs)
        ready = any(m.state is ModelState.READY for m in self.repository.models())
        status = SERVING if ready else NOT_SERVING
        for name in ["", *(s.name for s in self._services)]:
            await self._health.set(name, status)

    async def _on_model_change(self, managed: ManagedModel) -> None:
        versions = [m for m in self.repository.models() if m.name == managed.name]
        ready = any(m.state is ModelState.READY for m in versions)
        await self._health.set(health_name(managed.name), SERVING if ready else NOT_SERVING)

    async def run_until_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
            log.info("signal received: draining")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        await self.stop()

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, wait `drain_delay_s`, refuse new calls, let in-flight calls finish
        (up to `grace`, default `grace_period_s`), unload models."""
        if self._stopping:
            return
        self._stopping = True
        await self._health.enter_graceful_shutdown()
        if self.settings.drain_delay_s and grace is None:
            await asyncio.sleep(self.settings.drain_delay_s)
        if self._server is not None:
            await self._server.stop(self.settings.grace_period_s if grace is None else grace)
        await self.repository.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()  # type: ignore[attr-defined]
            self._metrics_server.server_close()  # type: ignore[attr-defined]
        log.info("stopped")
