"""The read side of `modelport.v1.RegistryService` on a backend: the models it serves.

The router asks backends found through Kubernetes what they serve with ListModels;
`modelport models` can point at a backend too. Writes belong to the router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from modelport.inference.repository import ManagedModel, ModelRepository
from modelport.serving.catalog import STATE_TO_PROTO, TASK_TO_PROTO, ModelState, version_key
from modelport.serving.errors import NotFound, Unimplemented
from modelport.v1 import registry_pb2, registry_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


def _version(repository: ModelRepository, managed: ManagedModel) -> registry_pb2.ModelVersion:
    metadata = managed.model.metadata() if managed.state is ModelState.READY else None
    replica = registry_pb2.Replica(
        state=STATE_TO_PROTO[managed.state],
        reason=managed.reason,
        source="local",
        outstanding=managed.queue_depth,
        size_bytes=managed.size_bytes,
        pinned=managed.pinned,
        capacity_bytes=repository.budgets.get(managed.device, 0),
        used_bytes=repository.used_bytes(managed.device),
    )
    if managed.last_used:
        replica.last_used.FromNanoseconds(int(managed.last_used * 1e9))
    return registry_pb2.ModelVersion(
        version=managed.version,
        task=TASK_TO_PROTO[managed.model.task],
        state=STATE_TO_PROTO[managed.state],
        replicas=[replica],
        metadata=metadata.properties if metadata else {},
    )


def _infos(repository: ModelRepository) -> list[registry_pb2.ModelInfo]:
    by_name: dict[str, list[ManagedModel]] = {}
    for managed in repository.models():
        by_name.setdefault(managed.name, []).append(managed)
    return [
        registry_pb2.ModelInfo(
            name=name,
            versions=[
                _version(repository, m)
                for m in sorted(ms, key=lambda m: version_key(m.version), reverse=True)
            ],
        )
        for name, ms in sorted(by_name.items())
    ]


class BackendRegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    """ListModels and GetModel over this process's repository."""

    def __init__(self, repository: ModelRepository) -> None:
        self._repository = repository

    async def ListModels(
        self, request: registry_pb2.ListModelsRequest, context: Context
    ) -> registry_pb2.ListModelsResponse:
        models = []
        for info in _infos(self._repository):
            versions = [
                v
                for v in info.versions
                if (not request.task or v.task == request.task)
                and (not request.ready_only or v.state == STATE_TO_PROTO[ModelState.READY])
            ]
            if versions:
                models.append(registry_pb2.ModelInfo(name=info.name, versions=versions))
        return registry_pb2.ListModelsResponse(models=models)

    async def GetModel(
        self, request: registry_pb2.GetModelRequest, context: Context
    ) -> registry_pb2.ModelInfo:
        for info in _infos(self._repository):
            if info.name == request.name:
                return info
        raise NotFound(f"model {request.name!r} is not served here")

    async def RegisterModel(self, request: Any, context: Context) -> Any:
        raise Unimplemented("registry writes go to the router, not to a backend")

    RenewLease = DeregisterModel = SetTrafficSplit = SetShadow = GetShadow = RegisterModel

    async def WatchModels(
        self, request: registry_pb2.WatchModelsRequest, context: Context
    ) -> AsyncIterator[registry_pb2.ModelEvent]:
        raise Unimplemented("WatchModels is served by the router")
        yield  # an async generator, as the streaming RPC expects
