"""Router settings: environment (prefix `MODELPORT_`) plus static replicas."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelport.serving import endpoints
from modelport.serving.settings import CommonSettings

CREDENTIAL_HEADERS = ["authorization", "proxy-authorization", "cookie", "x-api-key"]


class StaticReplica(BaseModel):
    """A replica known from configuration (never expires, not stored)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    """Model name."""
    version: str = "1"
    """Model version."""
    task: str = "embedding"
    """Task name: embedding, text-classification, text-generation, image-classification ..."""
    endpoint: str = Field(min_length=3)
    """`host:port` of the replica (a `unix:` path only with `allow_unix_endpoints`)."""


class RouterSettings(CommonSettings):
    """Settings of the router process."""

    data_dir: Path = Path(".modelport")
    """Where the SQLite registry of persistent registrations and traffic splits lives."""
    lease_ttl_s: float = Field(10.0, gt=0)
    """Default lease of a self-registration; a replica that misses it is removed."""
    max_lease_ttl_s: float = Field(300.0, gt=0)
    """Longest lease a backend may ask for."""
    static_replicas: list[StaticReplica] = Field(default_factory=list)
    """Replicas from configuration (JSON list in `MODELPORT_STATIC_REPLICAS`)."""
    traffic_splits: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Traffic splits from configuration, `{"model": {"version": weight}}` (JSON in
    `MODELPORT_TRAFFIC_SPLITS`): applied at start over the stored ones, so every router
    given the same configuration routes the same way, after any restart."""
    allow_runtime_splits: bool = True
    """Serve SetTrafficSplit. False: splits come only from `traffic_splits` and the call
    is FAILED_PRECONDITION (the chart's default: a split set by a call would change one
    router replica only, and only until it restarts)."""
    shadow_max_inflight: int = Field(16, ge=1)
    """Shadow copies (SetShadow) in flight at once on this router; one more is dropped
    (counted), never queued: shadows never hold memory or delay callers."""
    shadow_timeout_s: float = Field(10.0, gt=0)
    """Deadline of each shadow copy."""
    eject_after_failures: int = Field(3, ge=1)
    """Consecutive transport failures after which a replica gets no calls until a health
    check passes."""
    connect_timeout_s: float = Field(1.0, gt=0)
    """How long a call waits for a replica's connection before trying another one."""
    probe_interval_s: float = Field(0.25, gt=0)
    """First delay between health checks of an ejected replica (doubles up to 5 s)."""
    discovery: Literal["none", "kubernetes"] = "none"
    """`kubernetes`: also find backends by watching EndpointSlices (the chart sets it)."""
    kubernetes_namespace: str = "default"
    """Namespace whose EndpointSlices are watched."""
    kubernetes_label_selector: str = "modelport.dev/backend=true"
    """Label selector of the backend Services' EndpointSlices."""
    kubernetes_api_version: str = "discovery.k8s.io/v1"
    """EndpointSlice API version (discovery.k8s.io/v1beta1 before Kubernetes 1.21)."""
    kubeconfig: Path | None = None
    """Kubeconfig file; unset uses the in-cluster service account (or ~/.kube/config)."""
    backend_tls_ca_file: Path | None = None
    """PEM CA bundle that signed the backends' certificates; set to call backends over TLS."""
    backend_tls_cert_file: Path | None = None
    """The router's client certificate for backends that require mTLS."""
    backend_tls_key_file: Path | None = None
    """The router's client key for backends that require mTLS."""
    backend_tls_server_name: str | None = None
    """Name to verify in every backend's certificate instead of its address (pod IPs are
    rarely in certificates; the chart uses one shared name)."""
    kubernetes_refresh_s: float = Field(15.0, gt=0)
    """How often each discovered endpoint is asked again which models it serves."""
    kubernetes_probe_concurrency: int = Field(8, ge=1)
    """Discovered endpoints asked at once which models they serve (each ask waits up to
    5 s); the others wait for a slot, while EndpointSlice events keep being applied."""
    backend_token_file: Path | None = None
    """File holding the token the router presents to backends on every call it makes
    (forwarded calls, discovery, load/unload, index, statistics); backends know it as
    their `auth_router_token_file`. Unset: the router calls backends without one."""
    strip_headers: list[str] = Field(default_factory=lambda: list(CREDENTIAL_HEADERS))
    """Caller metadata never forwarded to a replica (lower case). `authorization` is
    stripped whatever this says: the router presents its own credential."""
    allow_registration: bool = True
    """Serve RegisterModel. False: replicas come only from static configuration, the
    stored registrations and Kubernetes discovery (the chart's default)."""
    endpoint_allow_list: list[str] = Field(default_factory=list)
    """CIDRs, hosts or `host:port`s a registered endpoint must match (JSON list); empty:
    any `host:port`."""
    allow_unix_endpoints: bool = False
    """Accept `unix:` endpoints (registered or static). Off: endpoints are `host:port`
    only, never a socket on the router's machine."""
    load_on_demand: bool = True
    """A call for a model that replicas list as NOT_LOADED or EVICTED (`load: on_demand`
    in their catalogue) makes the router ask the replica with the most free memory budget
    to load it; the call waits within its deadline. False: such calls get UNAVAILABLE."""
    load_timeout_s: float = Field(300.0, gt=0)
    """Longest a load the router asks a replica for may take."""
    hot_outstanding: int = Field(8, ge=0)
    """Calls in flight from this router on every READY replica of a model at which the
    model is loaded on one more replica that lists it in its catalogue; 0: never."""
    forget_deregistered_after_s: float = Field(600.0, ge=0)
    """How long a replica that deregistered a model itself (after an unload, say) is still
    sent RepositoryModelLoad/Index calls for it. Replicas removed by an admin, whose lease
    lapsed or that left Kubernetes are never contacted again."""

    xds: bool = False
    """Serve the xDS control plane (ADS) on the router's port: Envoy (`modelport up
    --data-plane envoy`, the chart's `dataPlane`) and proxyless gRPC clients route by it."""
    xds_router_address: str | None = None
    """`host:port` (an IP address) at which Envoy and proxyless clients reach this router
    for calls they do not route themselves; unset: 127.0.0.1 and the router's port."""
    xds_listen_address: str | None = None
    """`ip:port` of the listener the router tells Envoy to open (the data plane's
    address for clients); unset: no Envoy listener (proxyless clients only)."""
    xds_service_name: str = Field("modelport", min_length=1)
    """The name proxyless clients dial (`xds:///modelport`): their API listener's."""
    xds_warmup_s: float | None = Field(None, ge=0)
    """How long after start the control plane answers no ADS stream (Envoy routes on its
    last config meanwhile), so that a restarted router pushes no config before the
    replicas holding leases have registered again; unset: `lease_ttl_s`."""
    data_plane_token_file: Path | None = None
    """With caller authentication on: the token Envoy presents on its ext_authz checks
    (a `router`-role token of the router's `auth_tokens_file`)."""

    @field_validator("xds_router_address", "xds_listen_address")
    @classmethod
    def _ip_port(cls, address: str | None) -> str | None:
        if address is not None:
            host, _ = endpoints.split_host_port(address)
            ipaddress.ip_address(host.strip("[]"))  # xDS addresses are IPs, never names
        return address

    @field_validator("strip_headers")
    @classmethod
    def _lower_case(cls, headers: list[str]) -> list[str]:
        return sorted({h.lower() for h in headers} | {"authorization"})

    @field_validator("traffic_splits")
    @classmethod
    def _weights(cls, splits: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for name, weights in splits.items():
            if not name:
                raise ValueError("a traffic split needs a model name")
            if any(w < 0 for w in weights.values()) or not any(weights.values()):
                raise ValueError(
                    f"traffic split of {name!r}: weights must not be negative and at least "
                    "one must be positive"
                )
        return splits

    @field_validator("endpoint_allow_list")
    @classmethod
    def _patterns(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            endpoints.check_pattern(pattern)
        return patterns

    @model_validator(mode="after")
    def _static_endpoints(self) -> RouterSettings:
        for replica in self.static_replicas:
            if not endpoints.is_host_port(replica.endpoint) and not (
                self.allow_unix_endpoints and replica.endpoint.startswith("unix:")
            ):
                raise ValueError(
                    f"static replica {replica.name!r}: endpoint {replica.endpoint!r} "
                    "is not host:port"
                )
        return self
