"""Who is calling: the principal a bearer token stands for, and what each role may do.

Roles:

- `client`: inference and the read-only RPCs.
- `registrar`: a backend registering itself with the router: RegisterModel, RenewLease
  and DeregisterModel, and only for the endpoints its token is bound to (`endpoints`
  patterns, or `same_host`: the host it calls from); nothing else.
- `router`: the router calling a backend: inference, the read-only RPCs and
  RepositoryModelLoad/Unload; never registry writes or traffic splits.
- `admin`: everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelport.serving import endpoints

ROLES = ("client", "registrar", "router", "admin")

REGISTRY_WRITES = frozenset(
    {
        "/modelport.v1.RegistryService/RegisterModel",
        "/modelport.v1.RegistryService/RenewLease",
        "/modelport.v1.RegistryService/DeregisterModel",
    }
)
"""What a registrar may call (for its own endpoints, checked by the registry)."""
TRAFFIC_SPLIT = "/modelport.v1.RegistryService/SetTrafficSplit"
SHADOW = "/modelport.v1.RegistryService/SetShadow"
"""Admins only, like traffic splits: it sends callers' inputs to another version."""
REPOSITORY_WRITES = frozenset(
    {
        "/inference.GRPCInferenceService/RepositoryModelLoad",
        "/inference.GRPCInferenceService/RepositoryModelUnload",
    }
)
"""Load and unload: the router's or an admin's."""
DATA_PLANE_PREFIXES = (
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/",
    "/envoy.service.auth.v3.Authorization/",
)
"""The router's xDS control plane and ext_authz check: the data plane's (a `router`-role
token) or an admin's; they show replica addresses and answer for other callers."""
ADMIN_METHODS = REGISTRY_WRITES | REPOSITORY_WRITES | {TRAFFIC_SPLIT, SHADOW}
"""Methods no client may call."""


def allowed(role: str, method: str) -> bool:
    """Whether `role` may call `method` at all (a registrar's binding is checked later)."""
    if role == "admin":
        return True
    if method in REGISTRY_WRITES:
        return role == "registrar"
    if method in (TRAFFIC_SPLIT, SHADOW):
        return False
    if method in REPOSITORY_WRITES or method.startswith(DATA_PLANE_PREFIXES):
        return role == "router"
    return role in ("client", "router")


@dataclass(frozen=True)
class Principal:
    """The identity and role a caller's token stands for."""

    identity: str
    role: str
    endpoints: tuple[str, ...] = ()
    """Registrar only: patterns (CIDR, host, host:port) of the endpoints it may register."""
    same_host: bool = False
    """Registrar only: it may register endpoints on the address it calls from."""

    @property
    def privileged(self) -> bool:
        """Whether it may see replica addresses and failure reasons (admin, router)."""
        return self.role in ("admin", "router")

    def may_register(self, endpoint: str, peer: str) -> bool:
        """Whether this principal may register, renew or deregister `endpoint`, calling
        from gRPC peer `peer`. Anyone but a registrar may (their role was checked)."""
        if self.role != "registrar":
            return True
        if not endpoints.is_host_port(endpoint):
            return False
        host, _ = endpoints.split_host_port(endpoint)
        caller = endpoints.peer_host(peer)
        if self.same_host and caller is not None and endpoints.same_host(host, caller):
            return True
        return any(endpoints.matches(endpoint, pattern) for pattern in self.endpoints)
