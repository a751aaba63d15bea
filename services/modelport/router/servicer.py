"""`modelport.v1.RegistryService` on the router: protobuf ⇄ registry types.

Who may change what: the auth interceptor lets admins and registrars call the registry
writes (and only admins SetTrafficSplit); here a registrar is held to its own endpoints
(its token's binding), to leases, and to its own leases when renewing. Every endpoint
is checked by the `EndpointPolicy` first. Each change (or refused change) is one audit
line with the endpoint, model and version; renewals are not audited (a debug log line),
unless they change a replica's state.

Replica endpoints and failure reasons are shown to admins and the router role only: a
client sees the models, versions and states.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from modelport.router.pool import ReplicaPool
from modelport.router.registry import Registration, Registry, ReplicaState, Source
from modelport.router.shadow import Shadows, ShadowStats
from modelport.router.store import RegistryStore
from modelport.serving import endpoints
from modelport.serving.auth import AuditLog
from modelport.serving.calls import caller, sees_internals
from modelport.serving.catalog import TASK_TO_PROTO
from modelport.serving.errors import (
    FailedPrecondition,
    InvalidArgument,
    ModelportError,
    NotFound,
    PermissionDenied,
)
from modelport.serving.identity import Principal
from modelport.serving.tracing import trace_id
from modelport.v1 import common_pb2, registry_pb2, registry_pb2_grpc

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]

STATE_TO_PROTO = {
    ReplicaState.LOADING: common_pb2.MODEL_STATE_LOADING,
    ReplicaState.READY: common_pb2.MODEL_STATE_READY,
    ReplicaState.FAILED: common_pb2.MODEL_STATE_FAILED,
    ReplicaState.UNLOADING: common_pb2.MODEL_STATE_UNLOADING,
    ReplicaState.DRAINING: common_pb2.MODEL_STATE_DRAINING,
    ReplicaState.NOT_LOADED: common_pb2.MODEL_STATE_NOT_LOADED,
    ReplicaState.EVICTED: common_pb2.MODEL_STATE_EVICTED,
}
STATE_FROM_PROTO = {v: k for k, v in STATE_TO_PROTO.items()}
TASK_NAME_TO_PROTO = {task.value: proto for task, proto in TASK_TO_PROTO.items()}
TASK_NAME_FROM_PROTO = {proto: task.value for task, proto in TASK_TO_PROTO.items()}


def task_to_proto(task: str) -> common_pb2.Task.ValueType:
    return TASK_NAME_TO_PROTO.get(task, common_pb2.TASK_UNSPECIFIED)


def task_from_proto(task: common_pb2.Task.ValueType) -> str:
    """The task name of a `modelport.v1.Task` ("" for one this router does not know)."""
    return TASK_NAME_FROM_PROTO.get(task, "")


REDACTED_REASON = "failed (the reason is shown to admins)"
SERVICE = "/modelport.v1.RegistryService/"


@dataclass(frozen=True)
class EndpointPolicy:
    """Which endpoints may be registered: `host:port` only (`unix:` paths when
    `allow_unix`), within `allow_list` (CIDRs, hosts, host:ports) when it is not empty."""

    allow_list: tuple[str, ...] = ()
    allow_unix: bool = False

    def check(self, endpoint: str) -> None:
        """InvalidArgument for a malformed endpoint, PermissionDenied for one not allowed."""
        if self.allow_unix and endpoint.startswith("unix:") and len(endpoint) > len("unix:"):
            if self.allow_list:
                raise PermissionDenied(f"endpoint {endpoint!r} is not in the allow-list")
            return
        try:
            endpoints.split_host_port(endpoint)
        except ValueError as exc:
            raise InvalidArgument("endpoint", f"must be host:port ({exc})") from exc
        if self.allow_list and not any(endpoints.matches(endpoint, p) for p in self.allow_list):
            raise PermissionDenied(f"endpoint {endpoint!r} is not in the allow-list")

    def allows(self, endpoint: str) -> bool:
        try:
            self.check(endpoint)
        except ModelportError:
            return False
        return True


class RouterRegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(
        self,
        registry: Registry,
        store: RegistryStore,
        pool: ReplicaPool,
        *,
        policy: EndpointPolicy | None = None,
        audit: AuditLog | None = None,
        allow_registration: bool = True,
        allow_splits: bool = True,
        shadows: Shadows | None = None,
    ) -> None:
        self._registry = registry
        self._shadows = shadows
        self._store = store
        self._pool = pool
        self._policy = policy or EndpointPolicy()
        self._audit = audit
        self._allow_registration = allow_registration
        self._allow_splits = allow_splits

    # -- who may -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _change(self, context: Context, method: str, **what: Any) -> Iterator[None]:
        """Audit one registry change (or its refusal) with what it was about."""
        outcome = "ok"
        try:
            yield
        except ModelportError as exc:
            outcome = exc.code.name.lower()
            raise
        finally:
            self._record(context, method, outcome, **what)

    def _record(self, context: Context, method: str, outcome: str, **what: Any) -> None:
        if self._audit is None:
            return
        principal = caller(context)
        metadata = dict(context.invocation_metadata() or ())
        self._audit.write(
            kind="registry",
            who=principal.identity if principal is not None else "-",
            what=SERVICE + method,
            **what,
            outcome=outcome,
            trace_id=trace_id(metadata.get("traceparent")),
        )

    def _own(self, context: Context, endpoint: str) -> Principal | None:
        """The caller, after checking that it may register or deregister `endpoint`."""
        principal = caller(context)
        if principal is not None and not principal.may_register(endpoint, context.peer()):
            raise PermissionDenied(
                f"{principal.identity!r} may register only its own endpoints, not {endpoint!r}"
            )
        return principal

    # -- conversions ------------------------------------------------------------------
    def _replica(self, r: Registration, redact: bool = False) -> registry_pb2.Replica:
        connection = self._pool.known(r.endpoint)
        reason = r.reason
        if redact and reason:
            reason = REDACTED_REASON
        replica = registry_pb2.Replica(
            endpoint="" if redact else r.endpoint,
            state=STATE_TO_PROTO[r.state],
            reason=reason,
            source=r.source.value,
            outstanding=connection.outstanding if connection else 0,
            ejected=connection.ejected if connection else False,
            size_bytes=r.size_bytes,
            pinned=r.pinned,
        )
        if r.last_used:
            replica.last_used.FromNanoseconds(int(r.last_used * 1e9))
        if r.lease_id:
            expires = timestamp_pb2.Timestamp()
            expires.FromNanoseconds(int((time.time() + r.lease_expires - time.monotonic()) * 1e9))
            replica.lease_expires_at.CopyFrom(expires)
        return replica

    def _info(
        self, name: str, task: int = 0, ready_only: bool = False, redact: bool = False
    ) -> registry_pb2.ModelInfo:
        versions = []
        for view in self._registry.versions(name):
            if task and task_to_proto(view.task) != task:
                continue
            if ready_only and view.state is not ReplicaState.READY:
                continue
            metadata: dict[str, str] = {}
            for r in view.replicas:
                metadata.update(r.metadata)
            versions.append(
                registry_pb2.ModelVersion(
                    version=view.version,
                    task=task_to_proto(view.task),
                    state=STATE_TO_PROTO[view.state],
                    replicas=[self._replica(r, redact) for r in view.replicas],
                    metadata=metadata,
                    traffic_weight=view.weight,
                )
            )
        return registry_pb2.ModelInfo(name=name, versions=versions)

    # -- RPCs ----------------------------------------------------------------------------
    async def RegisterModel(
        self, request: registry_pb2.RegisterModelRequest, context: Context
    ) -> registry_pb2.RegisterModelResponse:
        with self._change(
            context,
            "RegisterModel",
            endpoint=request.endpoint,
            model=request.model.name,
            version=request.model.version,
            persistent=request.persistent,
        ):
            return await self._register(request, context)

    async def _register(
        self, request: registry_pb2.RegisterModelRequest, context: Context
    ) -> registry_pb2.RegisterModelResponse:
        if not self._allow_registration:
            raise PermissionDenied(
                "this router takes no registrations: its replicas come from its "
                "configuration and discovery"
            )
        self._policy.check(request.endpoint)
        principal = self._own(context, request.endpoint)
        if principal is not None and principal.role == "registrar" and request.persistent:
            raise PermissionDenied("a registrar registers with a lease, never persistently")
        if request.task not in TASK_NAME_FROM_PROTO:
            raise InvalidArgument("task", "is required")
        state = STATE_FROM_PROTO.get(request.state, ReplicaState.READY)
        registration = Registration(
            name=request.model.name,
            version=request.model.version,
            endpoint=request.endpoint,
            task=TASK_NAME_FROM_PROTO[request.task],
            state=state,
            source=Source.PERSISTENT if request.persistent else Source.LEASE,
            reason=request.reason,
            metadata=dict(request.metadata),
            size_bytes=request.size_bytes,
            pinned=request.pinned,
        )
        ttl = request.lease_ttl.ToNanoseconds() / 1e9 if request.HasField("lease_ttl") else None
        self._registry.register(registration, ttl)
        if request.persistent:
            await self._store.save(registration)
            return registry_pb2.RegisterModelResponse()
        response = registry_pb2.RegisterModelResponse(lease_id=registration.lease_id)
        response.lease_ttl.FromNanoseconds(int(registration.lease_ttl_s * 1e9))
        return response

    async def RenewLease(
        self, request: registry_pb2.RenewLeaseRequest, context: Context
    ) -> registry_pb2.RenewLeaseResponse:
        principal = caller(context)
        peer = context.peer()
        lease_ids = list(request.lease_ids)
        states = [STATE_FROM_PROTO.get(s, ReplicaState.READY) for s in request.states]
        before = {i: r.state for i in lease_ids if (r := self._registry.leased(i)) is not None}

        def mine(registration: Registration) -> bool:
            return principal is None or principal.may_register(registration.endpoint, peer)

        unknown = self._registry.renew(lease_ids, states or None, mine)
        log.debug(
            "renewed %d of %d leases for %s",
            len(lease_ids) - len(unknown),
            len(lease_ids),
            principal.identity if principal is not None else "-",
        )
        for lease_id, state in before.items():
            registration = self._registry.leased(lease_id)
            if registration is not None and registration.state is not state:
                self._record(
                    context,
                    "RenewLease",
                    "ok",
                    endpoint=registration.endpoint,
                    model=registration.name,
                    version=registration.version,
                    state=registration.state.value,
                )
        return registry_pb2.RenewLeaseResponse(unknown_lease_ids=unknown)

    async def DeregisterModel(
        self, request: registry_pb2.DeregisterModelRequest, context: Context
    ) -> registry_pb2.DeregisterModelResponse:
        name, version, endpoint = request.model.name, request.model.version, request.endpoint
        with self._change(
            context, "DeregisterModel", endpoint=endpoint, model=name, version=version
        ):
            principal = self._own(context, endpoint)
            found = self._registry.find(name, version, endpoint)
            registrar = principal is not None and principal.role == "registrar"
            if registrar and found is not None and found.source is not Source.LEASE:
                raise PermissionDenied("a registrar deregisters only what it registered")
            # A replica deregistering itself (after an unload) stays reachable for a
            # repository load a while; anything an admin removes is forgotten at once.
            removed = self._registry.deregister(
                name, version, endpoint, forget=found is None or found.source is not Source.LEASE
            )
            if removed.source is Source.PERSISTENT:
                await self._store.delete(removed.name, removed.version, removed.endpoint)
            if not any(r.endpoint == removed.endpoint for r in self._registry.registrations()):
                await self._pool.drop(removed.endpoint)
        return registry_pb2.DeregisterModelResponse()

    async def ListModels(
        self, request: registry_pb2.ListModelsRequest, context: Context
    ) -> registry_pb2.ListModelsResponse:
        redact = not sees_internals(context)
        infos = [
            self._info(n, request.task, request.ready_only, redact) for n in self._registry.names()
        ]
        return registry_pb2.ListModelsResponse(models=[i for i in infos if i.versions])

    async def GetModel(
        self, request: registry_pb2.GetModelRequest, context: Context
    ) -> registry_pb2.ModelInfo:
        info = self._info(request.name, redact=not sees_internals(context))
        if not info.versions:
            raise NotFound(f"model {request.name!r} is not registered")
        return info

    async def WatchModels(
        self, request: registry_pb2.WatchModelsRequest, context: Context
    ) -> AsyncIterator[registry_pb2.ModelEvent]:
        redact = not sees_internals(context)
        watch = self._registry.watch()
        try:
            for name in self._registry.names():
                if not request.name or name == request.name:
                    yield registry_pb2.ModelEvent(model=self._info(name, redact=redact))
            while True:
                name = await watch.get()  # RESOURCE_EXHAUSTED once it fell behind
                if not request.name or name == request.name:
                    yield registry_pb2.ModelEvent(model=self._info(name, redact=redact))
        finally:
            self._registry.unwatch(watch)

    async def SetTrafficSplit(
        self, request: registry_pb2.SetTrafficSplitRequest, context: Context
    ) -> registry_pb2.SetTrafficSplitResponse:
        weights = dict(request.weights)
        reason = {"reason": request.reason} if request.reason else {}
        with self._change(
            context, "SetTrafficSplit", model=request.name, weights=weights, **reason
        ):
            if not self._allow_splits:
                raise FailedPrecondition(
                    "this router takes its traffic splits from its configuration "
                    "(MODELPORT_TRAFFIC_SPLITS; the chart's router.trafficSplits), the same "
                    "on every replica"
                )
            known = {v.version for v in self._registry.versions(request.name)}
            for version in weights:
                if version not in known:
                    raise InvalidArgument(f"weights[{version}]", "is not a registered version")
            self._registry.set_split(request.name, weights)
            await self._store.save_split(request.name, weights)
        return registry_pb2.SetTrafficSplitResponse()

    def _shadows_here(self) -> Shadows:
        if self._shadows is None:
            raise FailedPrecondition("this router does not shadow traffic")
        return self._shadows

    async def SetShadow(
        self, request: registry_pb2.SetShadowRequest, context: Context
    ) -> registry_pb2.ShadowStatus:
        reason = {"reason": request.reason} if request.reason else {}
        with self._change(
            context,
            "SetShadow",
            model=request.name,
            version=request.version,
            fraction=request.fraction,
            **reason,
        ):
            stats = self._shadows_here().set(request.name, request.version, request.fraction)
        return shadow_status(stats)

    async def GetShadow(
        self, request: registry_pb2.GetShadowRequest, context: Context
    ) -> registry_pb2.ShadowStatus:
        stats = self._shadows_here().get(request.name)
        if stats is None:
            raise NotFound(f"model {request.name!r} has no shadow")
        return shadow_status(stats)


def shadow_status(stats: ShadowStats) -> registry_pb2.ShadowStatus:
    return registry_pb2.ShadowStatus(
        name=stats.name,
        version=stats.version,
        fraction=stats.fraction,
        mirrored=stats.mirrored,
        dropped=stats.dropped,
        errors=stats.errors,
        compared=stats.compared,
        agreed=stats.agreed,
        vectors=stats.vectors,
        mean_cosine=stats.mean_cosine,
    )
