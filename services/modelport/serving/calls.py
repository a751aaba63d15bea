"""Per-call state that the observability interceptor owns and servicers fill in.

The interceptor makes one `CallRecord` per RPC and hands the servicer a `CallContext`:
grpc's servicer context with the record attached. A servicer that learns which model
version answers the call says so with `record_model(context, name, version)`, and the
interceptor labels the call's metrics with it when the call ends.

The record is an object reached through the context, not a context variable, so a write
from a child task (EmbedStream works on each request in a task of its own) is seen by
the interceptor.

Whose work a call is, for fair queueing, is the one value set for a call and read deep
below it (by a model's scheduler, beside the request id): `fair_share`, a context
variable the interceptors set before the servicer runs (see `fair_share_key`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc

from modelport.serving.identity import Principal


@dataclass
class CallRecord:
    """What is known about one call while it is served."""

    method: str
    """The full RPC name, `/package.Service/Method`."""
    request_id: str
    """The caller's `x-request-id`, or one made up for this call."""
    model: str = ""
    """The model that answers the call; empty until a servicer records it."""
    version: str = ""
    """The version of `model` that answers the call."""
    principal: Principal | None = None
    """Who calls, when authentication is on (set by the auth interceptor)."""


class CallContext:
    """grpc's servicer context of one call, with the call's `CallRecord` attached.

    Everything but `record` is grpc's own context (attribute access is delegated), so
    servicers use it as they would use grpc's."""

    __slots__ = ("_context", "record")

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any], record: CallRecord) -> None:
        self._context = context
        self.record = record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def call_record(context: object) -> CallRecord | None:
    """The record of the call `context` belongs to; None when no interceptor made one
    (a servicer called directly, say)."""
    return context.record if isinstance(context, CallContext) else None


ModelListener = Callable[[str, str], None]
"""Told (name, version) as soon as a handler resolves the model that serves a call, so
the call is labelled with it even when it fails afterwards (a full queue, a bad option)."""


def ignore_model(model: str, version: str) -> None:
    """The `ModelListener` of calls nobody labels."""


def model_listener(context: object) -> ModelListener:
    """The listener that records the model on the call of `context`."""
    return functools.partial(record_model, context)


def record_model(context: object, model: str, version: str) -> None:
    """Label the call of `context` with the model version that answers it."""
    record = call_record(context)
    if record is not None:
        record.model, record.version = model, version


call_holds: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "modelport_call_holds", default=None
)
"""Releases the call being served runs when it ends (set per call by the observability
interceptor): a model repository holds the model a call resolved until then, so it is
never evicted with the call in flight."""


def caller(context: object) -> Principal | None:
    """The authenticated caller of the call of `context`; None when authentication is off
    (then every caller may do everything)."""
    record = call_record(context)
    return record.principal if record is not None else None


MODEL_HEADER = "x-modelport-model"
VERSION_HEADER = "x-modelport-version"
"""Metadata naming the model (and version) a call is for, which Modelport's clients send:
Envoy routes a call that has them straight to a replica of that model (the request's
`model` field stays what the replica serves; the router reads the body, never these)."""
CALLER_HEADER = "x-modelport-caller"
"""Metadata the router sends with each call it forwards: the fair-share key it gave the
call, so a backend queues the caller's work as the caller's, not as the router's."""
MAX_KEY_CHARS = 256
"""A forwarded key is cut to this many characters."""

fair_share: ContextVar[str] = ContextVar("modelport_fair_share", default="")
"""The fair-share key of the call being served (see `fair_share_key`); schedulers queue
work by it, round robin between keys."""


routed_version: ContextVar[tuple[str, str]] = ContextVar(
    "modelport_routed_version", default=("", "")
)
"""(model, version) the call was routed to by a trusted data plane (see `routed_to`): the
version a request that names none is served by (Envoy cannot write a split's chosen
version into the request as the router does, so it names it in `VERSION_HEADER`)."""


def routed_to(metadata: Mapping[str, str | bytes], principal: Principal | None) -> tuple[str, str]:
    """(model, version) of `MODEL_HEADER` and `VERSION_HEADER`, taken only from the
    router's (or an admin's) credential, or when authentication is off; else empty."""
    model, version = metadata.get(MODEL_HEADER), metadata.get(VERSION_HEADER)
    trusted = principal is None or principal.privileged
    if trusted and isinstance(model, str) and isinstance(version, str) and model and version:
        return model, version
    return "", ""


def sees_internals(context: object) -> bool:
    """Whether the caller may see replica addresses and failure reasons: an admin or the
    router, or anyone when authentication is off."""
    principal = caller(context)
    return principal is None or principal.privileged


def fair_share_key(
    metadata: Mapping[str, str | bytes], peer: str, principal: Principal | None
) -> str:
    """Whose work a call is: `id:<identity>` for an authenticated caller (by token or by
    client certificate), else its connection (`peer:<gRPC peer>`). The key the router
    forwards (`CALLER_HEADER`) is taken only from the router's (or an admin's)
    credential, or when authentication is off (every caller is trusted then); from anyone
    else it is ignored."""
    forwarded = metadata.get(CALLER_HEADER)
    trusted = principal is None or principal.privileged
    if trusted and isinstance(forwarded, str) and forwarded:
        return forwarded[:MAX_KEY_CHARS]
    if principal is not None:
        return f"id:{principal.identity}"
    return f"peer:{peer}"
