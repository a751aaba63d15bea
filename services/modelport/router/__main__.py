"""Composition root of the router: `python -m modelport.router`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from modelport.router.health import ModelHealth
from modelport.router.metrics import RouterMetrics
from modelport.router.oip import RouterOip
from modelport.router.placement import Placement
from modelport.router.pool import ReplicaPool
from modelport.router.proxy import RoutingProxy
from modelport.router.registry import Registration, Registry, ReplicaState, Source
from modelport.router.servicer import EndpointPolicy, RouterRegistryServicer
from modelport.router.settings import RouterSettings
from modelport.router.shadow import Shadows
from modelport.router.store import RegistryStore
from modelport.serving import endpoints
from modelport.serving.auth import open_audit
from modelport.serving.identity import REGISTRY_WRITES, SHADOW, TRAFFIC_SPLIT
from modelport.serving.process import configure_logging
from modelport.serving.server import GrpcServer, ServiceBinding
from modelport.v1 import registry_pb2, registry_pb2_grpc

if TYPE_CHECKING:
    from modelport.router.xds import ControlPlane
    from modelport.router.xds_resources import Plan

log = logging.getLogger(__name__)

REGISTRY_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


def backend_credentials(settings: RouterSettings) -> grpc.ChannelCredentials | None:
    """TLS (and mTLS with a client certificate) towards the backends, when configured."""
    if settings.backend_tls_ca_file is None:
        return None
    cert, key = settings.backend_tls_cert_file, settings.backend_tls_key_file
    return grpc.ssl_channel_credentials(
        root_certificates=settings.backend_tls_ca_file.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


def backend_token(settings: RouterSettings) -> str | None:
    """The token the router presents to backends (read from `backend_token_file`)."""
    token = read_token(settings.backend_token_file)
    if token is None:
        return None
    if settings.tls_cert_file is not None and settings.backend_tls_ca_file is None:
        log.warning(
            "the router serves TLS but calls backends in plaintext: its backend token "
            "travels unencrypted (set MODELPORT_BACKEND_TLS_CA_FILE)"
        )
    return token


def read_token(path: Path | None) -> str | None:
    """The token in `path` (None when unset); an empty file is an error."""
    if path is None:
        return None
    token = path.read_text().strip()
    if not token:
        raise ValueError(f"{path}: the token file is empty")
    return token


def data_plane_plan(settings: RouterSettings) -> Plan:
    """The fixed parts of the xDS resources: addresses, credentials, ejection."""
    from modelport.router import xds_resources

    router = ("127.0.0.1", settings.port)
    if settings.xds_router_address is not None:
        router = endpoints.split_host_port(settings.xds_router_address)
    listen = None
    if settings.xds_listen_address is not None:
        listen = endpoints.split_host_port(settings.xds_listen_address)
    tls = None
    if settings.backend_tls_ca_file is not None:
        cert, key = settings.backend_tls_cert_file, settings.backend_tls_key_file
        tls = xds_resources.BackendTls(
            str(settings.backend_tls_ca_file.resolve()),
            str(cert.resolve()) if cert else None,
            str(key.resolve()) if key else None,
            settings.backend_tls_server_name,
        )
    return xds_resources.Plan(
        models={},
        router=(router[0].strip("[]"), router[1]),
        listen=(listen[0].strip("[]"), listen[1]) if listen else None,
        service_name=settings.xds_service_name,
        eject_after=settings.eject_after_failures,
        connect_timeout_s=settings.connect_timeout_s,
        backend_token=backend_token(settings),
        strip_headers=tuple(settings.strip_headers),
        backend_tls=tls,
    )


class RouterServer(GrpcServer):
    """The router process: registry + proxy on one gRPC server."""

    def __init__(self, settings: RouterSettings) -> None:
        metrics = RouterMetrics()
        self.registry = Registry(
            settings.lease_ttl_s,
            settings.max_lease_ttl_s,
            remember_s=settings.forget_deregistered_after_s,
        )
        self.store = RegistryStore(settings.data_dir)
        self.policy = EndpointPolicy(
            tuple(settings.endpoint_allow_list), settings.allow_unix_endpoints
        )
        audit = open_audit(
            settings.audit_log, settings.audit_denied_per_s, settings.audit_denied_burst
        )
        self.pool = ReplicaPool(
            settings,
            metrics,
            eject_after=settings.eject_after_failures,
            connect_timeout_s=settings.connect_timeout_s,
            probe_interval_s=settings.probe_interval_s,
            credentials=backend_credentials(settings),
            server_name=settings.backend_tls_server_name,
            token=backend_token(settings),
        )
        self.shadows = Shadows(
            self.registry,
            self.pool,
            metrics,
            max_inflight=settings.shadow_max_inflight,
            timeout_s=settings.shadow_timeout_s,
        )
        registry_servicer = RouterRegistryServicer(
            self.registry,
            self.store,
            self.pool,
            policy=self.policy,
            audit=audit,
            allow_registration=settings.allow_registration,
            allow_splits=settings.allow_runtime_splits,
            shadows=self.shadows,
        )
        self.placement = (
            Placement(
                self.registry,
                self.pool,
                metrics,
                load_timeout_s=settings.load_timeout_s,
                hot_outstanding=settings.hot_outstanding,
            )
            if settings.load_on_demand
            else None
        )
        proxy = RoutingProxy(
            self.registry,
            self.pool,
            metrics,
            strip_headers=frozenset(settings.strip_headers),
            shadows=self.shadows,
            placement=self.placement,
        )
        self.control_plane: ControlPlane | None = None
        extra: list[ServiceBinding] = []
        if settings.xds:
            from modelport.router.xds import ControlPlane

            self.control_plane = ControlPlane(
                self.registry,
                metrics,
                data_plane_plan(settings),
                warmup_s=(
                    settings.lease_ttl_s if settings.xds_warmup_s is None else settings.xds_warmup_s
                ),
            )
            extra.append(self.control_plane.binding())
        services = [
            ServiceBinding(
                REGISTRY_NAME,
                lambda server: registry_pb2_grpc.add_RegistryServiceServicer_to_server(
                    registry_servicer, server
                ),
            ),
            *proxy.bindings(),
            RouterOip(self.registry, self.pool, proxy).binding(),
            *extra,
        ]
        super().__init__(
            settings,
            services,
            metrics,
            name="modelport-router",
            audit=audit,
            self_audited=REGISTRY_WRITES
            | {TRAFFIC_SPLIT, SHADOW},  # the servicer says what changed
        )
        self.router_settings = settings
        self.model_health = ModelHealth(self.registry, self.health)
        self.on_stop(self.model_health.close)
        self.on_stop(self.registry.close)
        self.on_stop(self.shadows.close)
        if self.placement is not None:
            self.on_stop(self.placement.close)
        self.on_stop(self.pool.close)
        if self.control_plane is not None:
            self.on_stop(self.control_plane.close)

    async def start(self) -> None:
        stored, splits = await asyncio.to_thread(self.store.load)
        for registration in [r for r in stored if not self.policy.allows(r.endpoint)]:
            log.warning(
                "ignoring the stored registration of %s v%s at %r: the endpoint is not "
                "allowed (host:port within the allow-list); it stays in the store until "
                "allowed or removed from it",
                registration.name,
                registration.version,
                registration.endpoint,
            )
            stored.remove(registration)
        static = [
            Registration(s.name, s.version, s.endpoint, s.task, ReplicaState.READY, Source.STATIC)
            for s in self.router_settings.static_replicas
        ]
        # Splits from configuration win over stored ones: the same on every replica.
        self.registry.load([*stored, *static], {**splits, **self.router_settings.traffic_splits})
        self.registry.start()
        self.model_health.start()
        settings = self.router_settings
        if settings.discovery == "kubernetes":
            from modelport.router.kubernetes import KubernetesDiscovery

            discovery = KubernetesDiscovery(
                self.registry,
                self.pool,
                namespace=settings.kubernetes_namespace,
                label_selector=settings.kubernetes_label_selector,
                api_version=settings.kubernetes_api_version,
                kubeconfig=str(settings.kubeconfig) if settings.kubeconfig else None,
                refresh_s=settings.kubernetes_refresh_s,
                probe_concurrency=settings.kubernetes_probe_concurrency,
            )
            await discovery.start()
            self.on_stop(discovery.close)
        await super().start()
        if self.control_plane is not None:
            await self._start_control_plane()
        await self.set_serving(True)

    async def _start_control_plane(self) -> None:
        """Serve xDS once the router's port is known; with callers authenticated, Envoy's
        ext_authz checks are answered on the same server."""
        assert self.control_plane is not None
        settings = self.router_settings
        plan = self.control_plane.template
        if settings.xds_router_address is None:
            host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
            plan = replace(plan, router=(host, self.port))
        if self.auth is not None:
            from modelport.router.xds_authz import DataPlaneAuthorization

            assert self._server is not None
            DataPlaneAuthorization(self.auth).binding().register(self._server)
            token = read_token(settings.data_plane_token_file)
            plan = replace(
                plan,
                ext_authz_metadata=(("authorization", f"Bearer {token}"),) if token else (),
            )
        self.control_plane.template = plan
        await self.control_plane.start()


async def serve(settings: RouterSettings) -> None:
    server = RouterServer(settings)
    await server.start()
    await server.run_until_signal()


def main() -> None:
    settings = RouterSettings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
