"""`modelport.v1.RegistryService` on the router: protobuf ⇄ registry types."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from modelport.router.pool import ReplicaPool
from modelport.router.registry import Registration, Registry, ReplicaState, Source
from modelport.router.store import RegistryStore
from modelport.serving.catalog import TASK_TO_PROTO
from modelport.serving.errors import InvalidArgument, NotFound
from modelport.v1 import common_pb2, registry_pb2, registry_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]

STATE_TO_PROTO = {
    ReplicaState.LOADING: common_pb2.MODEL_STATE_LOADING,
    ReplicaState.READY: common_pb2.MODEL_STATE_READY,
    ReplicaState.FAILED: common_pb2.MODEL_STATE_FAILED,
    ReplicaState.UNLOADING: common_pb2.MODEL_STATE_UNLOADING,
    ReplicaState.DRAINING: common_pb2.MODEL_STATE_DRAINING,
}
STATE_FROM_PROTO = {v: k for k, v in STATE_TO_PROTO.items()}
TASK_NAME_TO_PROTO = {task.value: proto for task, proto in TASK_TO_PROTO.items()}
TASK_NAME_FROM_PROTO = {proto: task.value for task, proto in TASK_TO_PROTO.items()}


def task_to_proto(task: str) -> common_pb2.Task.ValueType:
    return TASK_NAME_TO_PROTO.get(task, common_pb2.TASK_UNSPECIFIED)


def task_from_proto(task: common_pb2.Task.ValueType) -> str:
    """The task name of a `modelport.v1.Task` ("" for one this router does not know)."""
    return TASK_NAME_FROM_PROTO.get(task, "")


class RouterRegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry, store: RegistryStore, pool: ReplicaPool) -> None:
        self._registry = registry
        self._store = store
        self._pool = pool

    # -- conversions ------------------------------------------------------------------
    def _replica(self, r: Registration) -> registry_pb2.Replica:
        connection = self._pool.known(r.endpoint)
        replica = registry_pb2.Replica(
            endpoint=r.endpoint,
            state=STATE_TO_PROTO[r.state],
            reason=r.reason,
            source=r.source.value,
            outstanding=connection.outstanding if connection else 0,
            ejected=connection.ejected if connection else False,
        )
        if r.lease_id:
            expires = timestamp_pb2.Timestamp()
            expires.FromNanoseconds(int((time.time() + r.lease_expires - time.monotonic()) * 1e9))
            replica.lease_expires_at.CopyFrom(expires)
        return replica

    def _info(self, name: str, task: int = 0, ready_only: bool = False) -> registry_pb2.ModelInfo:
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
                    replicas=[self._replica(r) for r in view.replicas],
                    metadata=metadata,
                    traffic_weight=view.weight,
                )
            )
        return registry_pb2.ModelInfo(name=name, versions=versions)

    # -- RPCs ----------------------------------------------------------------------------
    async def RegisterModel(
        self, request: registry_pb2.RegisterModelRequest, context: Context
    ) -> registry_pb2.RegisterModelResponse:
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
        states = [STATE_FROM_PROTO.get(s, ReplicaState.READY) for s in request.states]
        unknown = self._registry.renew(list(request.lease_ids), states or None)
        return registry_pb2.RenewLeaseResponse(unknown_lease_ids=unknown)

    async def DeregisterModel(
        self, request: registry_pb2.DeregisterModelRequest, context: Context
    ) -> registry_pb2.DeregisterModelResponse:
        removed = self._registry.deregister(
            request.model.name, request.model.version, request.endpoint
        )
        if removed.source is Source.PERSISTENT:
            await self._store.delete(removed.name, removed.version, removed.endpoint)
        if not any(r.endpoint == removed.endpoint for r in self._registry.registrations()):
            await self._pool.drop(removed.endpoint)
        return registry_pb2.DeregisterModelResponse()

    async def ListModels(
        self, request: registry_pb2.ListModelsRequest, context: Context
    ) -> registry_pb2.ListModelsResponse:
        infos = [self._info(n, request.task, request.ready_only) for n in self._registry.names()]
        return registry_pb2.ListModelsResponse(models=[i for i in infos if i.versions])

    async def GetModel(
        self, request: registry_pb2.GetModelRequest, context: Context
    ) -> registry_pb2.ModelInfo:
        info = self._info(request.name)
        if not info.versions:
            raise NotFound(f"model {request.name!r} is not registered")
        return info

    async def WatchModels(
        self, request: registry_pb2.WatchModelsRequest, context: Context
    ) -> AsyncIterator[registry_pb2.ModelEvent]:
        watch = self._registry.watch()
        try:
            for name in self._registry.names():
                if not request.name or name == request.name:
                    yield registry_pb2.ModelEvent(model=self._info(name))
            while True:
                name = await watch.get()  # RESOURCE_EXHAUSTED once it fell behind
                if not request.name or name == request.name:
                    yield registry_pb2.ModelEvent(model=self._info(name))
        finally:
            self._registry.unwatch(watch)

    async def SetTrafficSplit(
        self, request: registry_pb2.SetTrafficSplitRequest, context: Context
    ) -> registry_pb2.SetTrafficSplitResponse:
        weights = dict(request.weights)
        known = {v.version for v in self._registry.versions(request.name)}
        for version in weights:
            if version not in known:
                raise InvalidArgument(f"weights[{version}]", "is not a registered version")
        self._registry.set_split(request.name, weights)
        await self._store.save_split(request.name, weights)
        return registry_pb2.SetTrafficSplitResponse()
