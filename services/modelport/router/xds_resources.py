"""xDS resources derived from the registry: what Envoy and proxyless gRPC clients are told.

Pure functions of a `Plan` (the registry's READY replicas, resolved to addresses, and
its traffic splits): no I/O, so the same registry always gives the same resources.

- **Clusters** (CDS): `modelport-router`, the Python router itself, and one
  `model/<name>/<version>` per model version with a READY replica (EDS from the control
  plane, HTTP/2, outlier detection that ejects a replica after `eject_after` consecutive
  gateway failures, the router's own rule).
- **Endpoints** (EDS): a model version's READY replicas; a DRAINING, LOADING, FAILED or
  UNLOADING replica is not an endpoint, so it gets no new calls.
- **Routes**: an inference method (`INFERENCE_PATH`) whose call carries
  `x-modelport-model` naming a model with a READY replica goes to it: to the version
  `x-modelport-version` names if it is READY, else (no version header) to the model's
  traffic split over its READY versions, or its newest READY version. Everything else
  (no header, a model or version with no READY replica, admin and registry calls) goes
  to the Python router, which reads the body, loads on demand, answers LOADING or
  NOT_FOUND as ever.
- **Listeners**: for Envoy (`ENVOY_LISTENER`) a TCP listener with an HTTP connection
  manager; for proxyless gRPC an API listener named as the clients' `xds:///` target.

On the routes to a replica Envoy strips the caller's credentials and presents the
router's (`Plan.backend_token`), and sends the call's fair-share key
(`x-modelport-caller`): the ext_authz answer's when callers authenticate, else the
caller's address. With caller authentication on, Envoy asks the router's ext_authz
service before each such call (the router checks the token, the role and the rate
limit per input, as its interceptor does), and only unary methods take the direct path
(a client stream's later messages would go uncharged); the rest goes through the router.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2, outlier_detection_pb2
from envoy.config.core.v3 import (
    address_pb2,
    base_pb2,
    config_source_pb2,
    grpc_service_pb2,
    health_check_pb2,
    protocol_pb2,
)
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import api_listener_pb2, listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.retry.host.previous_hosts.v3 import previous_hosts_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2 as tls_common_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from envoy.type.matcher.v3 import regex_pb2, string_pb2
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2

from modelport.router.oip import FORWARDED
from modelport.router.oip import SERVICE as OIP_SERVICE
from modelport.router.proxy import ROUTED_FILES
from modelport.serving.calls import CALLER_HEADER, MODEL_HEADER, VERSION_HEADER

LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
TYPES = (LISTENER, ROUTE, CLUSTER, ENDPOINT)

ROUTER_CLUSTER = "modelport-router"
ENVOY_LISTENER = "modelport-envoy"
ROUTE_CONFIG = "modelport-routes"
EXT_AUTHZ = "envoy.filters.http.ext_authz"


def _inference_methods(streaming: bool) -> tuple[str, ...]:
    """`service/method` of what the router forwards to replicas (every method of the
    typed services, and the Open Inference Protocol's forwarded ones), streaming or not:
    the only paths a header may send straight to a replica (never admin or repository
    methods, which a replica would take as the router's)."""
    found = []
    for file in ROUTED_FILES:
        for service in file.DESCRIPTOR.services_by_name.values():
            found += [
                (service.full_name, m.name)
                for m in service.methods
                if (m.client_streaming or m.server_streaming) == streaming
            ]
    found += [
        (OIP_SERVICE.full_name, m.name)
        for m in OIP_SERVICE.methods
        if m.name in FORWARDED and (m.client_streaming or m.server_streaming) == streaming
    ]
    by_service: dict[str, list[str]] = {}
    for service, method in found:
        by_service.setdefault(service, []).append(method)
    return tuple(
        f"{re.escape(service)}/({'|'.join(sorted(methods))})"
        for service, methods in sorted(by_service.items())
    )


UNARY_PATHS = _inference_methods(streaming=False)
STREAMING_PATHS = _inference_methods(streaming=True)


def path_regex(paths: tuple[str, ...]) -> str:
    return "^/(" + "|".join(paths) + ")$"


@dataclass(frozen=True)
class VersionPlan:
    version: str
    addresses: tuple[tuple[str, int], ...]
    """(ip, port) of each READY replica, sorted."""
    weight: int
    """Its traffic-split weight (0: not in a split)."""


@dataclass(frozen=True)
class BackendTls:
    """The router's TLS towards backends, as files Envoy reads itself."""

    ca_file: str
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    """The name every backend's certificate is verified under (and sent as SNI); None:
    its address."""


@dataclass(frozen=True)
class Plan:
    """What the resources are made of."""

    models: dict[str, tuple[VersionPlan, ...]]
    """Model name → its versions with a READY replica, newest first."""
    router: tuple[str, int]
    """(ip, port) at which Envoy and proxyless clients reach the Python router."""
    listen: tuple[str, int] | None = None
    """(ip, port) of Envoy's listener; None: no Envoy listener (proxyless only)."""
    service_name: str = "modelport"
    """The API listener proxyless clients ask for (`xds:///<service_name>`)."""
    eject_after: int = 3
    connect_timeout_s: float = 1.0
    backend_token: str | None = None
    strip_headers: tuple[str, ...] = ("authorization",)
    backend_tls: BackendTls | None = None
    """TLS (mTLS with a client certificate) from Envoy to the replicas (None: plaintext)."""
    ext_authz_metadata: tuple[tuple[str, str], ...] | None = None
    """None: callers are not authenticated (no ext_authz). Otherwise the metadata Envoy
    sends with each ext_authz check (the data plane's own credential, if any)."""


def cluster_name(model: str, version: str) -> str:
    return f"model/{model}/{version}"


def _duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def _any(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _socket(host: str, port: int) -> address_pb2.Address:
    return address_pb2.Address(
        socket_address=address_pb2.SocketAddress(address=host, port_value=port)
    )


def _ads() -> config_source_pb2.ConfigSource:
    return config_source_pb2.ConfigSource(
        ads=config_source_pb2.AggregatedConfigSource(),
        resource_api_version=config_source_pb2.V3,
    )


def _http2_options() -> dict[str, any_pb2.Any]:
    options = http_protocol_options_pb2.HttpProtocolOptions(
        explicit_http_config=http_protocol_options_pb2.HttpProtocolOptions.ExplicitHttpConfig(
            http2_protocol_options=protocol_pb2.Http2ProtocolOptions()
        )
    )
    return {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": _any(options)}


def cluster(plan: Plan, name: str, *, proxyless: bool) -> cluster_pb2.Cluster:
    """An EDS cluster; a model version's ejects replicas after consecutive failures."""
    made = cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.EDS,
        eds_cluster_config=cluster_pb2.Cluster.EdsClusterConfig(eds_config=_ads()),
        connect_timeout=_duration(plan.connect_timeout_s),
        lb_policy=cluster_pb2.Cluster.ROUND_ROBIN
        if proxyless
        else cluster_pb2.Cluster.LEAST_REQUEST,
    )
    if not proxyless:
        for key, value in _http2_options().items():
            made.typed_extension_protocol_options[key].CopyFrom(value)
    if name != ROUTER_CLUSTER and plan.backend_tls is not None and not proxyless:
        made.transport_socket.CopyFrom(_upstream_tls(plan.backend_tls))
    if name != ROUTER_CLUSTER:
        made.outlier_detection.CopyFrom(
            outlier_detection_pb2.OutlierDetection(
                consecutive_5xx=wrappers_pb2.UInt32Value(value=plan.eject_after),
                consecutive_gateway_failure=wrappers_pb2.UInt32Value(value=plan.eject_after),
                enforcing_consecutive_gateway_failure=wrappers_pb2.UInt32Value(value=100),
                interval=_duration(1.0),
                base_ejection_time=_duration(5.0),
                max_ejection_percent=wrappers_pb2.UInt32Value(value=100),
            )
        )
    return made


def _upstream_tls(settings: BackendTls) -> base_pb2.TransportSocket:
    common = tls_pb2.CommonTlsContext(
        alpn_protocols=["h2"],
        validation_context=tls_common_pb2.CertificateValidationContext(
            trusted_ca=base_pb2.DataSource(filename=settings.ca_file),
            match_typed_subject_alt_names=[
                tls_common_pb2.SubjectAltNameMatcher(
                    san_type=tls_common_pb2.SubjectAltNameMatcher.DNS,
                    matcher=string_pb2.StringMatcher(exact=settings.server_name),
                )
            ]
            if settings.server_name
            else [],
        ),
    )
    if settings.cert_file and settings.key_file:
        common.tls_certificates.append(
            tls_common_pb2.TlsCertificate(
                certificate_chain=base_pb2.DataSource(filename=settings.cert_file),
                private_key=base_pb2.DataSource(filename=settings.key_file),
            )
        )
    context = tls_pb2.UpstreamTlsContext(common_tls_context=common, sni=settings.server_name or "")
    return base_pb2.TransportSocket(name="envoy.transport_sockets.tls", typed_config=_any(context))


def load_assignment(name: str, addresses: tuple[tuple[str, int], ...]) -> Any:
    """The READY replicas of a cluster, one locality (named, with its weight set: gRPC
    refuses a locality without a name and skips one without a weight)."""
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=name,
        endpoints=[
            endpoint_components_pb2.LocalityLbEndpoints(
                locality=base_pb2.Locality(zone="modelport"),  # gRPC NACKs none
                load_balancing_weight=wrappers_pb2.UInt32Value(value=1),
                lb_endpoints=[
                    endpoint_components_pb2.LbEndpoint(
                        endpoint=endpoint_components_pb2.Endpoint(address=_socket(host, port)),
                        health_status=health_check_pb2.HEALTHY,
                    )
                    for host, port in addresses
                ],
            )
        ]
        if addresses
        else [],
    )


def _header(name: str, value: str | None = None) -> route_components_pb2.HeaderMatcher:
    if value is None:
        return route_components_pb2.HeaderMatcher(name=name, present_match=True)
    return route_components_pb2.HeaderMatcher(
        name=name, string_match=string_pb2.StringMatcher(exact=value)
    )


def _set(key: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=key, value=value),
        append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
    )


def _action(
    plan: Plan,
    clusters: list[tuple[str, int]],
    *,
    proxyless: bool,
    direct: bool,
    pin: bool = False,
) -> route_components_pb2.RouteAction:
    """Forward to one cluster or a weighted set; deadlines are the caller's (grpc-timeout),
    never Envoy's 15 s default."""
    pin = pin and not proxyless
    action = route_components_pb2.RouteAction(
        timeout=_duration(0),
        max_stream_duration=route_components_pb2.RouteAction.MaxStreamDuration(
            grpc_timeout_header_max=_duration(0)
        ),
    )
    if len(clusters) == 1 and not pin:
        action.cluster = clusters[0][0]
    else:
        # Each choice names its version (`VERSION_HEADER`): a backend that serves several
        # versions serves an unpinned request with the one chosen here, as the router
        # pins it in the request. (gRPC clients ignore added headers.)
        action.weighted_clusters.CopyFrom(
            route_components_pb2.WeightedCluster(
                clusters=[
                    route_components_pb2.WeightedCluster.ClusterWeight(
                        name=name,
                        weight=wrappers_pb2.UInt32Value(value=weight),
                        request_headers_to_add=[_set(VERSION_HEADER, name.rsplit("/", 1)[1])]
                        if pin
                        else [],
                    )
                    for name, weight in clusters
                ]
            )
        )
    if direct and not proxyless:
        # Only calls that never reached a replica are tried again (the router's rule).
        action.retry_policy.CopyFrom(
            route_components_pb2.RetryPolicy(
                retry_on="connect-failure,refused-stream,reset-before-request",
                num_retries=wrappers_pb2.UInt32Value(value=2),
                # another replica than the one that failed, as the router does
                retry_host_predicate=[
                    route_components_pb2.RetryPolicy.RetryHostPredicate(
                        name="envoy.retry_host_predicates.previous_hosts",
                        typed_config=_any(previous_hosts_pb2.PreviousHostsPredicate()),
                    )
                ],
                host_selection_retry_max_attempts=5,
            )
        )
    return action


def _direct_route(
    plan: Plan,
    name: str,
    headers: list[route_components_pb2.HeaderMatcher],
    clusters: list[tuple[str, int]],
    regex: str,
    *,
    proxyless: bool,
    pin: bool = False,
) -> route_components_pb2.Route:
    route = route_components_pb2.Route(
        name=name,
        match=route_components_pb2.RouteMatch(
            safe_regex=regex_pb2.RegexMatcher(regex=regex), headers=headers
        ),
        route=_action(plan, clusters, proxyless=proxyless, direct=True, pin=pin),
    )
    if proxyless:
        return route
    route.request_headers_to_remove.extend(plan.strip_headers)
    if plan.ext_authz_metadata is None:
        route.request_headers_to_remove.append(CALLER_HEADER)
        route.request_headers_to_add.append(_set(CALLER_HEADER, "peer:%DOWNSTREAM_REMOTE_ADDRESS%"))
    if plan.backend_token:
        route.request_headers_to_add.append(_set("authorization", f"Bearer {plan.backend_token}"))
    return route


def routes(plan: Plan, *, proxyless: bool) -> route_pb2.RouteConfiguration:
    """Header routes to READY model versions first, then everything to the router."""
    authenticated = plan.ext_authz_metadata is not None
    regex = path_regex(UNARY_PATHS if authenticated else UNARY_PATHS + STREAMING_PATHS)
    listed: list[route_components_pb2.Route] = []
    for model, versions in sorted(plan.models.items()):
        for version in versions:
            listed.append(
                _direct_route(
                    plan,
                    f"{model}/{version.version}",
                    [_header(MODEL_HEADER, model), _header(VERSION_HEADER, version.version)],
                    [(cluster_name(model, version.version), 1)],
                    regex,
                    proxyless=proxyless,
                )
            )
        weighted = [(cluster_name(model, v.version), v.weight) for v in versions if v.weight > 0]
        listed.append(
            route_components_pb2.Route(  # a version asked for that is not READY here
                name=f"{model}/other-version",
                match=route_components_pb2.RouteMatch(
                    prefix="/", headers=[_header(MODEL_HEADER, model), _header(VERSION_HEADER)]
                ),
                route=_action(plan, [(ROUTER_CLUSTER, 1)], proxyless=proxyless, direct=False),
            )
        )
        listed.append(
            _direct_route(
                plan,
                model,
                [_header(MODEL_HEADER, model)],
                weighted or [(cluster_name(model, versions[0].version), 1)],
                regex,
                proxyless=proxyless,
                pin=True,
            )
        )
    listed.append(
        route_components_pb2.Route(
            name="router",
            match=route_components_pb2.RouteMatch(prefix="/"),
            route=_action(plan, [(ROUTER_CLUSTER, 1)], proxyless=proxyless, direct=False),
        )
    )
    if authenticated and not proxyless:
        # The router authenticates its own calls: no ext_authz check on its routes.
        off = _any(ext_authz_pb2.ExtAuthzPerRoute(disabled=True))
        for route in listed:
            if route.route.cluster == ROUTER_CLUSTER:
                route.typed_per_filter_config[EXT_AUTHZ].CopyFrom(off)
    return route_pb2.RouteConfiguration(
        name=ROUTE_CONFIG,
        virtual_hosts=[
            route_components_pb2.VirtualHost(name="modelport", domains=["*"], routes=listed)
        ],
    )


def _http_filters(plan: Plan, *, proxyless: bool) -> list[hcm_pb2.HttpFilter]:
    filters = []
    if plan.ext_authz_metadata is not None and not proxyless:
        filters.append(
            hcm_pb2.HttpFilter(
                name=EXT_AUTHZ,
                typed_config=_any(
                    ext_authz_pb2.ExtAuthz(
                        grpc_service=grpc_service_pb2.GrpcService(
                            envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
                                cluster_name=ROUTER_CLUSTER
                            ),
                            timeout=_duration(5.0),
                            initial_metadata=[
                                base_pb2.HeaderValue(key=k, value=v)
                                for k, v in plan.ext_authz_metadata
                            ],
                        ),
                        transport_api_version=config_source_pb2.V3,
                        failure_mode_allow=False,
                        with_request_body=ext_authz_pb2.BufferSettings(
                            max_request_bytes=4 * 1024 * 1024,
                            allow_partial_message=True,
                            pack_as_bytes=True,
                        ),
                        status_on_error=_http_status(503),
                    )
                ),
            )
        )
    filters.append(
        hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=_any(router_pb2.Router()))
    )
    return filters


def _http_status(code: int) -> Any:
    from envoy.type.v3 import http_status_pb2

    return http_status_pb2.HttpStatus(code=code)


def _manager(plan: Plan, *, proxyless: bool) -> hcm_pb2.HttpConnectionManager:
    return hcm_pb2.HttpConnectionManager(
        stat_prefix="modelport",
        codec_type=hcm_pb2.HttpConnectionManager.AUTO,
        route_config=routes(plan, proxyless=proxyless),
        http_filters=_http_filters(plan, proxyless=proxyless),
        # gRPC streams may stay open while a model generates: no idle cut-off.
        stream_idle_timeout=_duration(0),
        generate_request_id=wrappers_pb2.BoolValue(value=True),
    )


def listeners(plan: Plan, *, proxyless: bool) -> list[listener_pb2.Listener]:
    if proxyless:
        return [
            listener_pb2.Listener(
                name=plan.service_name,
                api_listener=api_listener_pb2.ApiListener(
                    api_listener=_any(_manager(plan, proxyless=True))
                ),
            )
        ]
    if plan.listen is None:
        return []
    made = [
        listener_pb2.Listener(
            name=ENVOY_LISTENER,
            address=_socket(*plan.listen),
            filter_chains=[
                listener_components_pb2.FilterChain(
                    filters=[
                        listener_components_pb2.Filter(
                            name="envoy.filters.network.http_connection_manager",
                            typed_config=_any(_manager(plan, proxyless=False)),
                        )
                    ]
                )
            ],
        )
    ]
    return made


def clusters(plan: Plan, *, proxyless: bool) -> list[cluster_pb2.Cluster]:
    names = [ROUTER_CLUSTER] + [
        cluster_name(model, v.version)
        for model, versions in sorted(plan.models.items())
        for v in versions
    ]
    return [cluster(plan, name, proxyless=proxyless) for name in names]


def assignments(plan: Plan) -> list[Any]:
    made = [load_assignment(ROUTER_CLUSTER, (plan.router,))]
    for model, versions in sorted(plan.models.items()):
        for v in versions:
            made.append(load_assignment(cluster_name(model, v.version), v.addresses))
    return made


def resources(plan: Plan, *, proxyless: bool) -> dict[str, dict[str, Any]]:
    """Every resource by type URL and name, for an Envoy or a proxyless gRPC client."""
    return {
        LISTENER: {r.name: r for r in listeners(plan, proxyless=proxyless)},
        ROUTE: {},
        CLUSTER: {r.name: r for r in clusters(plan, proxyless=proxyless)},
        ENDPOINT: {r.cluster_name: r for r in assignments(plan)},
    }
