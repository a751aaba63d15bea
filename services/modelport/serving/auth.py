"""Bearer-token authentication, roles, per-identity rate limits and stream caps, and the
audit log.

Tokens come from a YAML file (`auth_tokens_file`):

    tokens:
      - {token: "...", identity: backend-team, role: client}
      - {token: "...", identity: platform, role: admin}
      - {token: "...", identity: embed-pods, role: registrar, endpoints: ["10.0.0.0/8"]}
      - {token: "...", identity: embed-1, role: registrar, same_host: true}

and, on a backend, from the router's token file (`auth_router_token_file`): whoever
presents that token is identity `router` with role `router`. A caller that sends no token
may instead be known by its client certificate (`auth_tls_identities`: a SAN URI, SAN DNS
name, or the CN of a certificate without SANs, verified against `tls_client_ca_file`), so
mTLS alone can authenticate clients, registrars and the router. What each role may call
is in `modelport.serving.identity`. Health and reflection stay open for probes and tools.
Denials say nothing about why beyond UNAUTHENTICATED or PERMISSION_DENIED; the audit log
says who, what and why.

Tokens are held as SHA-256 digests, compared with `hmac.compare_digest`: how long a
lookup takes says nothing about the tokens held.

Rate limits charge per input, not per call: a call costs the number of inputs it carries
(the entries of its request's repeated string or bytes field 2: the texts, prompts or
images of the typed RPCs; the batch of an Open Inference Protocol ModelInfer, its largest
first dimension or the element count of a BYTES tensor; 1 for any other request), and
every message of a client stream (EmbedStream, ModelStreamInfer) costs the same. A
bucket with at least one token left admits a request whatever its cost, and may go
negative: a large call passes, and the identity's next calls wait until
the bucket has refilled. A stream whose message finds the bucket empty ends with
RESOURCE_EXHAUSTED. The router role is neither rate-limited nor stream-capped: it carries
many callers' calls, limited at the router.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import hmac
import json
import logging
import math
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import grpc
import yaml
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor

from modelport.serving import endpoints
from modelport.serving.calls import (
    call_record,
    fair_share,
    fair_share_key,
    routed_to,
    routed_version,
)
from modelport.serving.errors import ModelportError, PermissionDenied, ResourceExhausted
from modelport.serving.identity import ADMIN_METHODS, ROLES, Principal, allowed
from modelport.serving.interceptors import Handler, around
from modelport.serving.settings import TlsIdentity
from modelport.serving.tracing import trace_id
from modelport.serving.wire import Malformed, count_length_delimited, length_delimited, varints

log = logging.getLogger(__name__)

OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
ROUTER_IDENTITY = "router"
"""Identity of whoever presents the router's token."""
UNAUTHENTICATED = "missing or invalid credentials"
FORBIDDEN = "not allowed"
"""What a denied caller is told (the audit log says why)."""


class TokenTable:
    """Principals by token, held as SHA-256 digests. A lookup compares the presented
    token's digest with every digest held, each with `hmac.compare_digest` and without
    stopping at a match: its duration depends on the number of tokens only."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        self._entries = [(_digest(token), p) for token, p in principals.items()]

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, token: str) -> Principal | None:
        digest = _digest(token)
        found = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, digest):
                found = principal
        return found


class CertificateTable:
    """Principals by the identity a verified client certificate names: its SAN URIs and
    DNS names, or its subject CN when it has no SAN (as RFC 6125 has it)."""

    def __init__(self, identities: list[TlsIdentity]) -> None:
        self._principals = {
            entry.peer: Principal(
                entry.identity or entry.peer, entry.role, tuple(entry.endpoints), entry.same_host
            )
            for entry in identities
        }

    def __bool__(self) -> bool:
        return bool(self._principals)

    def find(self, auth_context: dict[str, list[bytes]]) -> Principal | None:
        """The principal of the first mapped identity of a TLS peer (None without one)."""
        if auth_context.get("transport_security_type") != [b"ssl"]:
            return None
        names = [*auth_context.get("peer_uri", ()), *auth_context.get("peer_dns", ())]
        if not auth_context.get("x509_subject_alternative_name"):
            names += auth_context.get("x509_common_name", ())
        for name in names:
            principal = self._principals.get(name.decode("utf-8", "replace"))
            if principal is not None:
                return principal
        return None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def load_tokens(path: Path) -> dict[str, Principal]:
    """Principals by token from a tokens file; ValueError naming the bad entry."""
    data = yaml.safe_load(path.read_text()) or {}
    tokens: dict[str, Principal] = {}
    for i, entry in enumerate(data.get("tokens", [])):
        where = f"{path}: tokens[{i}]"
        role = entry.get("role", "client")
        if role not in ROLES or not entry.get("token") or not entry.get("identity"):
            raise ValueError(f"{where} needs token, identity and role {'|'.join(ROLES)}")
        token = str(entry["token"])
        if token in tokens:
            raise ValueError(f"{where}: the same token is listed twice")
        patterns = tuple(str(p) for p in entry.get("endpoints") or ())
        same_host = bool(entry.get("same_host", False))
        if role == "registrar":
            if not patterns and not same_host:
                raise ValueError(
                    f"{where}: a registrar is bound to `endpoints` (CIDR, host or host:port) "
                    "or to `same_host: true`"
                )
            for pattern in patterns:
                try:
                    endpoints.check_pattern(pattern)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from exc
        elif patterns or same_host:
            raise ValueError(f"{where}: only a registrar is bound to endpoints")
        tokens[token] = Principal(str(entry["identity"]), role, patterns, same_host)
    return tokens


def load_token_table(tokens_file: Path | None, router_token_file: Path | None) -> TokenTable:
    """The tokens of `tokens_file`, plus the router's token (role router) when given."""
    tokens = load_tokens(tokens_file) if tokens_file is not None else {}
    if router_token_file is not None:
        token = router_token_file.read_text().strip()
        if not token:
            raise ValueError(f"{router_token_file}: the router's token file is empty")
        if token in tokens:
            raise ValueError(f"{router_token_file}: the router's token is in the tokens file")
        tokens[token] = Principal(ROUTER_IDENTITY, "router")
    return TokenTable(tokens)


@dataclass
class _Bucket:
    tokens: float
    updated: float = field(default_factory=time.monotonic)


class RateLimiter:
    """A token bucket per key: `rate` units per second, bursts up to `burst`. A bucket
    with at least one unit admits a request of any cost and may go negative. At most
    `max_keys` buckets are kept (the least recently used is forgotten)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 65536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst = rate, burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: collections.OrderedDict[str, _Bucket] = collections.OrderedDict()

    def take(self, key: str, cost: float = 1.0) -> float:
        """0 if the request may go (and `cost` is spent), else the seconds until it could."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= cost
            return 0.0
        return (1 - bucket.tokens) / self.rate


class AuditLog:
    """JSON lines to a file, or stdout for "-".

    Admin actions and registry changes are always written. Denied calls are written at
    most `denied_per_s` per source (an identity, or the peer address of a caller without
    one) with bursts of `denied_burst`, and ten times that over all sources; the denials
    not written are counted, and the count goes out with the source's next line
    (`"suppressed": n`). So nobody can grow the log faster than that."""

    OVERALL = 10
    """The budget of all sources together, in multiples of one source's."""

    def __init__(
        self,
        target: str,
        *,
        denied_per_s: float = 1.0,
        denied_burst: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._out: TextIO = sys.stdout if target == "-" else open(target, "a")  # noqa: SIM115
        self._per_source = RateLimiter(denied_per_s, denied_burst, max_keys=4096, clock=clock)
        self._overall = RateLimiter(
            denied_per_s * self.OVERALL, denied_burst * self.OVERALL, clock=clock
        )
        self._suppressed: collections.OrderedDict[str, int] = collections.OrderedDict()

    def write(self, **fields: Any) -> None:
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields})
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def denied(self, source: str, **fields: Any) -> None:
        """Write a denied call's line unless `source` (or everyone) spent its budget."""
        if self._per_source.take(source) or self._overall.take(""):
            self._suppressed[source] = self._suppressed.pop(source, 0) + 1
            if len(self._suppressed) > 4096:
                self._suppressed.popitem(last=False)
            return
        suppressed = self._suppressed.pop(source, 0)
        if suppressed:
            fields["suppressed"] = suppressed
        self.write(**fields)

    def close(self) -> None:
        if self._out is not sys.stdout:
            self._out.close()


def open_audit(target: str, denied_per_s: float, denied_burst: int) -> AuditLog | None:
    """The audit log of a process; None when `target` is empty."""
    if not target:
        return None
    return AuditLog(target, denied_per_s=denied_per_s, denied_burst=denied_burst)


INFER_REQUEST = "inference.ModelInferRequest"
"""Open Inference Protocol inference requests (ModelInfer, each ModelStreamInfer message)
cost their batch."""
MAX_COST = 1 << 16
"""Most units one request is charged (a declared shape may be absurd; the backend refuses
it, and the caller's bucket stays usable within a bounded wait)."""


class InputCounter:
    """How many inputs a request carries, at least 1: for the typed RPCs the entries of
    its repeated string or bytes field 2 (the texts, prompts or images); for an Open
    Inference Protocol inference request its batch (the largest first dimension of its
    input tensors, or the element count of a BYTES tensor). Works on parsed messages and
    on the raw bytes the router forwards; other methods cost 1."""

    def __init__(self) -> None:
        self._counters: dict[str, Callable[[Any], int]] = {}

    def __call__(self, method: str, request: Any) -> int:
        counter = self._counters.get(method)
        if counter is None:
            counter = self._counters[method] = _counter(method)
        return max(1, min(MAX_COST, counter(request)))


def _counter(method: str) -> Callable[[Any], int]:
    try:
        described = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    except KeyError:
        return lambda request: 1
    if described.input_type.full_name == INFER_REQUEST:
        return _batch
    found = described.input_type.fields_by_number.get(2)
    if (
        found is None
        or not found.is_repeated
        or found.type not in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
    ):
        return lambda request: 1
    number, name = found.number, found.name

    def entries(request: Any) -> int:
        if isinstance(request, bytes):
            return count_length_delimited(request, number)
        return len(getattr(request, name, ()))

    return entries


def _batch(request: Any) -> int:
    """The batch of an inference request: over its input tensors, the element count of a
    BYTES tensor (its texts), else the first dimension."""
    if isinstance(request, bytes):
        tensors = [
            (_last_string(tensor, 2), _signed(varints(tensor, 3)))
            for tensor in _length_delimited_or_none(request, 5)
        ]
    else:
        tensors = [(t.datatype, list(t.shape)) for t in getattr(request, "inputs", ())]
    batch = 1
    for datatype, shape in tensors:
        if datatype == "BYTES":
            batch = max(batch, math.prod(max(0, d) for d in shape) if shape else 1)
        elif shape:
            batch = max(batch, shape[0])
    return batch


def _signed(values: list[int]) -> list[int]:
    """int64 values read as unsigned varints, with their sign back."""
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values]


def _length_delimited_or_none(data: bytes, number: int) -> list[bytes]:
    try:
        return length_delimited(data, number)
    except Malformed:
        return []  # the replica refuses it: one unit


def _last_string(data: bytes, number: int) -> str:
    found = _length_delimited_or_none(data, number)
    return found[-1].decode("utf-8", "replace") if found else ""


def _abort_handler(
    handler: Any,
    code: grpc.StatusCode,
    message: str,
    record: Callable[[grpc.aio.ServicerContext[Any, Any]], None],
) -> Any:
    """A handler that ends the call with `code` (after `record`ing it, with its context)."""

    async def deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        record(context)
        await context.abort(code, message)

    async def deny_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        record(context)
        await context.abort(code, message)
        yield  # pragma: no cover - an async generator for streaming responses

    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(deny)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(deny)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny_stream)
    return grpc.stream_stream_rpc_method_handler(deny_stream)


def _peer_source(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The audit source of a caller without a valid token: its address."""
    peer = context.peer() or ""
    return f"peer:{endpoints.peer_host(peer) or peer.partition(':')[0]}"


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Authenticates every call but health and reflection, checks its role, charges its
    identity's rate limit per input and per stream message, caps its concurrent streams
    and writes the audit log: denied calls, and the admin methods it lets through (but
    those in `self_audited`, whose servicer writes a line with what changed). The
    caller's principal is left on the call's `CallRecord` (see `serving.calls.caller`), and
    its identity (a token's or a client certificate's) is the call's fair-share key (or,
    from the router, the key the router forwards: `serving.calls.fair_share_key`)."""

    def __init__(
        self,
        tokens: TokenTable,
        limiter: RateLimiter | None,
        audit: AuditLog | None,
        *,
        certificates: CertificateTable | None = None,
        max_streams: int = 0,
        self_audited: frozenset[str] = frozenset(),
    ) -> None:
        self._tokens = tokens
        self._certificates = certificates
        """Principals of client certificates, for callers that send no token."""
        self._limiter = limiter
        self._audit = audit
        self._max_streams = max_streams
        self._self_audited = self_audited
        """Admin methods whose servicer writes the audit line itself, with what changed."""
        self._streams: dict[str, int] = {}
        self._inputs = InputCounter()

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
        header = metadata.get("authorization")
        trace = trace_id(metadata.get("traceparent"))
        if header is None and self._certificates:
            by_certificate: Handler = around(
                handler, self._certificate_scope(method, handler, trace, metadata)
            )
            return by_certificate
        principal = None
        if isinstance(header, str) and header.startswith("Bearer "):
            principal = self._tokens.find(header.removeprefix("Bearer ").strip())
        if principal is None:

            def unauthenticated(context: grpc.aio.ServicerContext[Any, Any]) -> None:
                self._denied(_peer_source(context), "-", method, "unauthenticated", trace)

            denied: Handler = _abort_handler(
                handler,
                grpc.StatusCode.UNAUTHENTICATED,
                UNAUTHENTICATED,
                unauthenticated,
            )
            return denied
        if not allowed(principal.role, method):
            who = principal.identity

            def forbidden(context: grpc.aio.ServicerContext[Any, Any]) -> None:
                self._denied(who, who, method, "permission_denied", trace)

            refused: Handler = _abort_handler(
                handler, grpc.StatusCode.PERMISSION_DENIED, FORBIDDEN, forbidden
            )
            return refused
        self._audit_admin(principal, method, trace)
        share = fair_share_key(metadata, "", principal)
        guarded: Handler = around(handler, self._scope(principal, method, handler, trace, share))
        return guarded

    def authorize(
        self, header: str | None, method: str, request: bytes | None, source: str, trace: str = ""
    ) -> Principal:
        """Decide a call a data plane (Envoy's ext_authz) forwards for the caller whose
        `authorization` header is `header`, as `intercept_service` decides a call to this
        server: the token's principal, its role, its rate limit charged per input of
        `request` (1 when the body is not known). Raises what the caller is told; the
        audit log says who and why."""
        principal = None
        if header is not None and header.startswith("Bearer "):
            principal = self._tokens.find(header.removeprefix("Bearer ").strip())
        if principal is None:
            self._denied(source, "-", method, "unauthenticated", trace)
            raise ModelportError(UNAUTHENTICATED, code=grpc.StatusCode.UNAUTHENTICATED)
        if not allowed(principal.role, method) or method in ADMIN_METHODS:
            self._denied(principal.identity, principal.identity, method, "permission_denied", trace)
            raise PermissionDenied(FORBIDDEN)
        if self._limiter is not None and principal.role != "router":
            self._charge(principal, method, request if request is not None else b"", trace)
        return principal

    def _certificate_scope(
        self, method: str, handler: Any, trace: str, metadata: Mapping[str, str | bytes]
    ) -> Any:
        """Around a call that sent no token: its principal is its client certificate's
        (known only once the call has its context), checked like a token's; its identity
        is its fair-share key, as a token's is."""
        assert self._certificates is not None
        certificates = self._certificates

        @contextlib.asynccontextmanager
        async def by_certificate(
            request: Any, context: Any, streaming: bool
        ) -> AsyncIterator[tuple[Any, Any]]:
            principal = certificates.find(context.auth_context())
            if principal is None:
                self._denied(_peer_source(context), "-", method, "unauthenticated", trace)
                raise ModelportError(UNAUTHENTICATED, code=grpc.StatusCode.UNAUTHENTICATED)
            if not allowed(principal.role, method):
                who = principal.identity
                self._denied(who, who, method, "permission_denied", trace)
                raise PermissionDenied(FORBIDDEN)
            self._audit_admin(principal, method, trace)
            share = fair_share_key(metadata, "", principal)
            scope = self._scope(principal, method, handler, trace, share)
            async with scope(request, context, streaming) as inner:
                yield inner

        return by_certificate

    def _audit_admin(self, principal: Principal, method: str, trace: str) -> None:
        """The audit line of an admin method let through (unless its servicer writes it)."""
        if method in ADMIN_METHODS and method not in self._self_audited and self._audit:
            self._audit.write(
                kind="admin",
                who=principal.identity,
                what=method,
                outcome="allowed",
                trace_id=trace,
            )

    def _scope(
        self, principal: Principal, method: str, handler: Any, trace: str, share: str
    ) -> Any:
        exempt = principal.role == "router"
        limited = self._limiter is not None and not exempt
        capped = (
            self._max_streams > 0
            and not exempt
            and bool(handler.request_streaming or handler.response_streaming)
        )

        @contextlib.asynccontextmanager
        async def guarded(
            request: Any, context: Any, streaming: bool
        ) -> AsyncIterator[tuple[Any, Any]]:
            record = call_record(context)
            if record is not None:
                record.principal = principal
            fair_share.set(share)
            routed_version.set(routed_to(dict(context.invocation_metadata() or ()), principal))
            if limited and not streaming:
                self._charge(principal, method, request, trace)
            if capped:
                self._open_stream(principal, method, trace)
            try:
                if limited and streaming:
                    request = self._charged(principal, method, request, trace)
                yield request, context
            finally:
                if capped:
                    self._close_stream(principal)

        return guarded

    # -- rate limits and stream caps ----------------------------------------------------------
    def _charge(self, principal: Principal, method: str, request: Any, trace: str) -> None:
        """Spend one unit per input of `request`; ResourceExhausted when none is left."""
        assert self._limiter is not None
        wait = self._limiter.take(principal.identity, self._inputs(method, request))
        if wait:
            self._denied(principal.identity, principal.identity, method, "rate_limited", trace)
            raise ResourceExhausted(
                "rate limit exceeded", subject=f"identity:{principal.identity}", retry_after_s=wait
            )

    async def _charged(
        self, principal: Principal, method: str, requests: AsyncIterator[Any], trace: str
    ) -> AsyncIterator[Any]:
        async for request in requests:
            self._charge(principal, method, request, trace)
            yield request

    def _open_stream(self, principal: Principal, method: str, trace: str) -> None:
        identity = principal.identity
        if self._streams.get(identity, 0) >= self._max_streams:
            self._denied(identity, identity, method, "too_many_streams", trace)
            raise ResourceExhausted(
                f"at most {self._max_streams} concurrent streams per identity",
                subject=f"identity:{identity}",
            )
        self._streams[identity] = self._streams.get(identity, 0) + 1

    def _close_stream(self, principal: Principal) -> None:
        left = self._streams.get(principal.identity, 1) - 1
        if left > 0:
            self._streams[principal.identity] = left
        else:
            self._streams.pop(principal.identity, None)

    def _denied(self, source: str, who: str, method: str, outcome: str, trace: str) -> None:
        if self._audit is not None:
            self._audit.denied(
                source, kind="denied", who=who, what=method, outcome=outcome, trace_id=trace
            )
