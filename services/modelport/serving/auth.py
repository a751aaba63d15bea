"""Bearer-token authentication, roles, per-identity rate limits and the audit log.

Tokens come from a YAML file (`auth_tokens_file`):

    tokens:
      - {token: "...", identity: backend-team, role: client}
      - {token: "...", identity: platform, role: admin}

`client` may call inference and read-only registry RPCs; `admin` may also register,
deregister, split traffic and load/unload models. Health and reflection stay open for
probes and tools. Denials say nothing about why beyond UNAUTHENTICATED or
PERMISSION_DENIED; the audit log (one JSON line per admin action and per denied call)
says who, what and why.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import grpc
import yaml

from modelport.serving.errors import ResourceExhausted
from modelport.serving.interceptors import Handler, to_status

log = logging.getLogger(__name__)

OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
ADMIN_METHODS = {
    "/modelport.v1.RegistryService/RegisterModel",
    "/modelport.v1.RegistryService/RenewLease",
    "/modelport.v1.RegistryService/DeregisterModel",
    "/modelport.v1.RegistryService/SetTrafficSplit",
    "/inference.GRPCInferenceService/RepositoryModelLoad",
    "/inference.GRPCInferenceService/RepositoryModelUnload",
}
ROLES = {"client": 0, "admin": 1}


@dataclass(frozen=True)
class Principal:
    identity: str
    role: str


def load_tokens(path: Path) -> dict[str, Principal]:
    data = yaml.safe_load(path.read_text()) or {}
    tokens = {}
    for i, entry in enumerate(data.get("tokens", [])):
        role = entry.get("role", "client")
        if role not in ROLES or not entry.get("token") or not entry.get("identity"):
            raise ValueError(f"{path}: tokens[{i}] needs token, identity and role client|admin")
        tokens[str(entry["token"])] = Principal(str(entry["identity"]), role)
    return tokens


@dataclass
class _Bucket:
    tokens: float
    updated: float = field(default_factory=time.monotonic)


class RateLimiter:
    """A token bucket per identity: `rate` calls per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, identity: str) -> float:
        """0 if the call may go, else the seconds until it could."""
        now = time.monotonic()
        bucket = self._buckets.setdefault(identity, _Bucket(float(self.burst), now))
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


class AuditLog:
    """JSON lines to a file, or stdout for "-"."""

    def __init__(self, target: str) -> None:
        self._lock = threading.Lock()
        self._out: TextIO = sys.stdout if target == "-" else open(target, "a")  # noqa: SIM115

    def write(self, **fields: Any) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields})
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def _abort_handler(
    handler: Any,
    code: grpc.StatusCode,
    message: str,
    metadata: tuple[tuple[str, str | bytes], ...] = (),
) -> Any:
    async def deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message, metadata)

    async def deny_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message, metadata)
        yield  # pragma: no cover - an async generator for streaming responses

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(deny)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(deny)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny_stream)
    return grpc.stream_stream_rpc_method_handler(deny_stream)


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(
        self, tokens: dict[str, Principal], limiter: RateLimiter | None, audit: AuditLog | None
    ) -> None:
        self._tokens = tokens
        self._limiter = limiter
        self._audit = audit

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        header = str(metadata.get("authorization", ""))
        principal = (
            self._tokens.get(header.removeprefix("Bearer ").strip())
            if header.startswith("Bearer ")
            else None
        )
        trace = str(metadata.get("traceparent", ""))
        if principal is None:
            self._record("denied", "-", method, "unauthenticated", trace)
            denied: Handler = _abort_handler(
                handler, grpc.StatusCode.UNAUTHENTICATED, "missing or invalid credentials"
            )
            return denied
        needed = "admin" if method in ADMIN_METHODS else "client"
        if ROLES[principal.role] < ROLES[needed]:
            self._record("denied", principal.identity, method, "permission_denied", trace)
            forbidden: Handler = _abort_handler(
                handler, grpc.StatusCode.PERMISSION_DENIED, "not allowed"
            )
            return forbidden
        if self._limiter is not None:
            wait = self._limiter.take(principal.identity)
            if wait:
                self._record("denied", principal.identity, method, "rate_limited", trace)
                status = to_status(
                    ResourceExhausted(
                        "rate limit exceeded",
                        subject=f"identity:{principal.identity}",
                        retry_after_s=wait,
                    )
                )
                limited: Handler = _abort_handler(
                    handler, status.code, status.details, tuple(status.trailing_metadata)
                )
                return limited
        if needed == "admin":
            self._record("admin", principal.identity, method, "allowed", trace)
        return handler

    def _record(self, kind: str, who: str, method: str, outcome: str, trace: str) -> None:
        if self._audit is not None:
            trace_id = trace.split("-")[1] if trace.count("-") >= 3 else ""
            self._audit.write(kind=kind, who=who, what=method, outcome=outcome, trace_id=trace_id)
