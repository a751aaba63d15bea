"""Replica endpoints: `host:port` only, and patterns that allow them.

An endpoint the router dials is a host name, an IPv4 address or a bracketed IPv6 address,
then a port: never a gRPC target URI (`unix:`, `dns:`, `ipv4:` ...), which would let
whoever registers it choose a socket on the router's own machine. A pattern is a CIDR
(`10.0.0.0/8`), a host (any port) or a `host:port`.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*\.?")
URI_SCHEMES = frozenset(
    {"unix", "unix-abstract", "dns", "ipv4", "ipv6", "vsock", "xds", "google-c2p"}
)
"""gRPC resolver schemes: `unix:50051` is a socket path to grpc, not host `unix`."""


def split_host_port(endpoint: str) -> tuple[str, int]:
    """(host, port) of `host:port` or `[v6]:port`; ValueError for anything else."""
    if endpoint.startswith("["):
        host, separator, port = endpoint[1:].partition("]:")
        if not separator:
            raise ValueError(f"{endpoint!r} is not [address]:port")
        ipaddress.IPv6Address(host)  # ValueError when it is not one
    else:
        host, separator, port = endpoint.rpartition(":")
        if not separator or not _HOSTNAME.fullmatch(host) or host.lower() in URI_SCHEMES:
            raise ValueError(f"{endpoint!r} is not host:port")
    if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{endpoint!r} has no port between 1 and 65535")
    return host, int(port)


def is_host_port(endpoint: str) -> bool:
    try:
        split_host_port(endpoint)
    except ValueError:
        return False
    return True


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def same_host(a: str, b: str) -> bool:
    """Whether two hosts are the same (addresses compared as addresses, names as names)."""
    ip_a, ip_b = _ip(a), _ip(b)
    if ip_a is not None and ip_b is not None:
        return ip_a == ip_b
    return a.strip("[]").rstrip(".").lower() == b.strip("[]").rstrip(".").lower()


def check_pattern(pattern: str) -> None:
    """ValueError unless `pattern` is a CIDR, a host or a `host:port`."""
    if "/" in pattern:
        ipaddress.ip_network(pattern, strict=False)
    elif not is_host_port(pattern) and not is_host_port(f"{pattern}:1"):
        raise ValueError(f"{pattern!r} is not a CIDR, a host or host:port")


def matches(endpoint: str, pattern: str) -> bool:
    """Whether `host:port` `endpoint` is allowed by `pattern` (CIDR, host or host:port)."""
    try:
        host, port = split_host_port(endpoint)
    except ValueError:
        return False
    if "/" in pattern:
        address = _ip(host)
        try:
            network = ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
        return address is not None and address in network
    if is_host_port(pattern):
        pattern_host, pattern_port = split_host_port(pattern)
        return port == pattern_port and same_host(host, pattern_host)
    return same_host(host, pattern)


def peer_host(peer: str) -> str | None:
    """The address of a gRPC peer string (`ipv4:10.0.0.7:53122`, `ipv6:[::1]:53122`);
    None for other transports."""
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host, _, _ = rest.rpartition(":")
    return host.strip("[]") or None


def dial_target(endpoint: str) -> str:
    """The gRPC target to dial for an endpoint: `dns:///host:port` for `host:port` (so no
    part of it is ever read as a URI scheme); anything else (a `unix:` endpoint a router
    was told to allow) as it is."""
    return f"dns:///{endpoint}" if is_host_port(endpoint) else endpoint
