"""The grpc.aio servers every Modelport process runs.

`GrpcServer` carries what all processes share: the interceptors (in the one order
`interceptors` gives), `grpc.health.v1`, reflection (v1 and v1alpha), message-size and
keepalive options, the Prometheus endpoint, and graceful shutdown (SIGTERM/SIGINT →
health NOT_SERVING → `drain_delay_s` → refuse new calls → in-flight calls finish within
`grace_period_s` → stop). `modelport.inference.server` adds the model repository and
per-model health (`model/<name>`), the router its own per-model health.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from opentelemetry import trace

from modelport.serving.auth import (
    AuditLog,
    AuthInterceptor,
    CertificateTable,
    RateLimiter,
    load_token_table,
    open_audit,
)
from modelport.serving.interceptors import (
    ErrorInterceptor,
    ObservabilityInterceptor,
    RequestParsingInterceptor,
)
from modelport.serving.metrics import Metrics
from modelport.serving.reflection import enable_reflection
from modelport.serving.settings import CommonSettings
from modelport.serving.tracing import make_tracer

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


@dataclass(frozen=True)
class ServiceBinding:
    """A gRPC service to serve: its full name and how to add it to a server."""

    name: str
    register: Callable[[grpc.aio.Server], None]


def health_name(model_name: str) -> str:
    """The grpc.health.v1 service name that reports one model."""
    return f"model/{model_name}"


def grpc_options(settings: CommonSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.keepalive_time_ms", int(settings.keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * 1000)),
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.so_reuseport", 0),
    ]


def interceptors(
    metrics: Metrics,
    tracer: trace.Tracer | None = None,
    auth: AuthInterceptor | None = None,
) -> list[grpc.aio.ServerInterceptor]:  # type: ignore[type-arg]
    """The server interceptors of every process, outermost first: observe the call (span,
    request id, metrics: it sees the final status of everything inside), map errors to
    statuses, parse requests (a bad one raises InvalidArgument, mapped above), then
    authenticate (its denials are observed like any other status)."""
    chain: list[grpc.aio.ServerInterceptor] = [  # type: ignore[type-arg]
        ObservabilityInterceptor(metrics, tracer),
        ErrorInterceptor(),
        RequestParsingInterceptor(),
    ]
    if auth is not None:
        chain.append(auth)
    return chain


class GrpcServer:
    """A gRPC server with health, reflection, metrics and graceful shutdown."""

    def __init__(
        self,
        settings: CommonSettings,
        services: Sequence[ServiceBinding],
        metrics: Metrics,
        *,
        name: str = "modelport",
        audit: AuditLog | None = None,
        self_audited: frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings
        self.audit = audit or open_audit(
            settings.audit_log, settings.audit_denied_per_s, settings.audit_denied_burst
        )
        """Where admin actions, registry changes and denied calls are written (None: nowhere)."""
        self._self_audited = self_audited
        """Admin methods whose servicers write their own audit lines."""
        self.metrics = metrics
        self.health = HealthServicer()
        self._services = list(services)
        self._server: grpc.aio.Server | None = None
        self.auth: AuthInterceptor | None = None
        """The call authenticator, once started (None when authentication is off)."""
        self._health_server: grpc.aio.Server | None = None
        self._metrics_server: object | None = None
        self._stopping = False
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._before_drain: list[Callable[[], Awaitable[None]]] = []
        self.port = 0
        self.metrics_port = 0
        self.health_port = 0
        self.tracer, self._tracer_provider = make_tracer(name, settings.otlp_endpoint)
        self.on_stop(self._flush_traces)

    async def _flush_traces(self) -> None:
        if self._tracer_provider is not None:
            await asyncio.to_thread(self._tracer_provider.shutdown)

    @property
    def service_names(self) -> list[str]:
        return [s.name for s in self._services]

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Await `hook` after the gRPC server has stopped (release resources)."""
        self._on_stop.append(hook)

    def before_drain(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Await `hook` right after health turns NOT_SERVING (deregister, say)."""
        self._before_drain.append(hook)

    async def set_serving(self, serving: bool) -> None:
        """Overall and per-service health."""
        for name in ["", *self.service_names]:
            await self.health.set(name, SERVING if serving else NOT_SERVING)

    async def start(self) -> None:
        """Bind and start serving (health NOT_SERVING until `set_serving(True)`)."""
        settings = self.settings
        auth = None
        if settings.auth_enabled:
            limiter = (
                RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
                if settings.rate_limit_per_s
                else None
            )
            tokens = load_token_table(settings.auth_tokens_file, settings.auth_router_token_file)
            auth = AuthInterceptor(
                tokens,
                limiter,
                self.audit,
                certificates=CertificateTable(settings.auth_tls_identities),
                max_streams=settings.max_streams_per_identity,
                self_audited=self._self_audited,
            )
        server = grpc.aio.server(
            interceptors=interceptors(self.metrics, self.tracer, auth),
            options=[
                *grpc_options(settings),
                ("grpc.max_concurrent_streams", settings.max_streams_per_connection),
            ],
        )
        for service in self._services:
            service.register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        enable_reflection([*self.service_names, HEALTH_SERVICE], server)
        await self.set_serving(False)
        address = f"{settings.host}:{settings.port}"
        credentials = None
        if settings.tls_cert_file is not None and settings.tls_key_file is not None:
            client_ca = settings.tls_client_ca_file
            credentials = grpc.ssl_server_credentials(
                [(settings.tls_key_file.read_bytes(), settings.tls_cert_file.read_bytes())],
                root_certificates=client_ca.read_bytes() if client_ca else None,
                require_client_auth=client_ca is not None,
            )
        try:
            if credentials is not None:
                self.port = server.add_secure_port(address, credentials)
            else:
                self.port = server.add_insecure_port(address)
        except RuntimeError:  # grpc's "Failed to bind ... set GRPC_VERBOSITY=debug"
            self.port = 0
        if self.port == 0:
            raise OSError(
                f"cannot listen on {address}: port {settings.port} is in use (another "
                "Modelport process?) or the host is not an address of this machine; set "
                "MODELPORT_PORT (0 picks a free port) or MODELPORT_HOST"
            )
        await server.start()
        self._server = server
        self.auth = auth
        if settings.health_port >= 0:
            health_server = grpc.aio.server()
            health_pb2_grpc.add_HealthServicer_to_server(self.health, health_server)
            self.health_port = health_server.add_insecure_port(
                f"{settings.host}:{settings.health_port}"
            )
            await health_server.start()
            self._health_server = health_server
        if self.settings.metrics_port >= 0:
            try:
                http_server, _ = self.metrics.serve_http(settings.host, settings.metrics_port)
            except OSError as exc:
                await self.stop(grace=0)
                raise OSError(
                    f"cannot serve metrics on {settings.host}:{settings.metrics_port}: "
                    f"{exc.strerror or exc}; set MODELPORT_METRICS_PORT (-1 turns it off)"
                ) from exc
            self._metrics_server = http_server
            self.metrics_port = http_server.server_port  # type: ignore[attr-defined]
        log.info("gRPC listening on %s:%d", self.settings.host, self.port)

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
        (up to `grace`, default `grace_period_s`), run the stop hooks."""
        if self._stopping:
            return
        self._stopping = True
        await self.health.enter_graceful_shutdown()
        for hook in self._before_drain:
            await hook()
        if self.settings.drain_delay_s and grace is None:
            await asyncio.sleep(self.settings.drain_delay_s)
        if self._server is not None:
            await self._server.stop(self.settings.grace_period_s if grace is None else grace)
        if self._health_server is not None:
            await self._health_server.stop(0)
        for hook in self._on_stop:
            await hook()
        if self.audit is not None:
            self.audit.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()  # type: ignore[attr-defined]
            self._metrics_server.server_close()  # type: ignore[attr-defined]
        log.info("stopped")
