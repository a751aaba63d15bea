"""`inference.GRPCInferenceService` on the router.

Inference (ModelInfer, ModelStreamInfer), ModelMetadata and ModelConfig are forwarded as
raw bytes to a replica of the model name and version (fields 1 and 2), like the typed
RPCs. The router answers the rest from its registry or by asking the replicas:
ServerLive/Ready/Metadata, ModelReady, ModelStatistics (summed over replicas),
RepositoryIndex (merged over replicas), and RepositoryModelLoad/Unload (sent to every
replica that serves the model, or deregistered it itself lately; OK only when every one
of them succeeded, else an error naming each replica that failed). Every call to a
replica carries the router's credential.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from modelport import __version__
from modelport.oip import EXTENSIONS
from modelport.oip.v2 import open_inference_pb2 as pb
from modelport.oip.v2 import open_inference_pb2_grpc as pb_grpc
from modelport.router.pool import ReplicaPool
from modelport.router.proxy import RoutingProxy, oip_route_key
from modelport.router.registry import Registry, ReplicaState
from modelport.serving.errors import InvalidArgument, ModelportError, NotFound
from modelport.serving.server import ServiceBinding

Context = grpc.aio.ServicerContext[Any, Any]
SERVICE = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
FORWARDED = ("ModelInfer", "ModelStreamInfer", "ModelMetadata", "ModelConfig")
FAN_OUT_TIMEOUT_S = 10.0
STATE_RANK = {
    "READY": 0,
    "LOADING": 1,
    "UNLOADING": 2,
    "EVICTED": 3,
    "NOT_LOADED": 4,
    "UNAVAILABLE": 5,
}
"""Which replica's entry the merged repository index shows for a model: the most available."""


def _add(total: pb.StatisticDuration, part: pb.StatisticDuration) -> None:
    total.count += part.count
    total.ns += part.ns


def merge_statistics(parts: list[pb.ModelStatistics]) -> list[pb.ModelStatistics]:
    """One entry per (name, version), counts and durations summed over replicas."""
    merged: dict[tuple[str, str], pb.ModelStatistics] = {}
    for part in parts:
        total = merged.setdefault(
            (part.name, part.version), pb.ModelStatistics(name=part.name, version=part.version)
        )
        total.last_inference = max(total.last_inference, part.last_inference)
        total.inference_count += part.inference_count
        total.execution_count += part.execution_count
        for field in (
            "success",
            "fail",
            "queue",
            "compute_input",
            "compute_infer",
            "compute_output",
            "cache_hit",
            "cache_miss",
        ):
            _add(getattr(total.inference_stats, field), getattr(part.inference_stats, field))
        sizes = {b.batch_size: b for b in total.batch_stats}
        for batch in part.batch_stats:
            if batch.batch_size in sizes:
                _add(sizes[batch.batch_size].compute_infer, batch.compute_infer)
            else:
                total.batch_stats.add().CopyFrom(batch)
    return list(merged.values())


class RouterOip:
    def __init__(self, registry: Registry, pool: ReplicaPool, proxy: RoutingProxy) -> None:
        self._registry = registry
        self._pool = pool
        self._proxy = proxy

    def binding(self) -> ServiceBinding:
        local: dict[str, Callable[[Any, Context], Awaitable[Any]]] = {
            "ServerLive": self.server_live,
            "ServerReady": self.server_ready,
            "ServerMetadata": self.server_metadata,
            "ModelReady": self.model_ready,
            "ModelStatistics": self.model_statistics,
            "RepositoryIndex": self.repository_index,
            "RepositoryModelLoad": self.load,
            "RepositoryModelUnload": self.unload,
        }
        handlers = {}
        for method in SERVICE.methods:
            path = f"/{SERVICE.full_name}/{method.name}"
            if method.name in FORWARDED:
                handlers[method.name] = self._proxy.handler(method, path, oip_route_key)
            else:
                request_class = getattr(pb, method.input_type.name)
                handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                    local[method.name],
                    request_deserializer=request_class.FromString,
                    response_serializer=lambda message: message.SerializeToString(),
                )
        generic = grpc.method_handlers_generic_handler(SERVICE.full_name, handlers)
        return ServiceBinding(
            SERVICE.full_name, lambda server: server.add_generic_rpc_handlers((generic,))
        )

    def _stub(self, endpoint: str) -> pb_grpc.GRPCInferenceServiceStub:
        return pb_grpc.GRPCInferenceServiceStub(self._pool.get(endpoint).channel)

    async def _fan_out(
        self, endpoints: set[str], call: Callable[[pb_grpc.GRPCInferenceServiceStub], Any]
    ) -> list[Any]:
        """Results of `call` on every endpoint that answers (failures are skipped)."""
        results = await asyncio.gather(
            *(call(self._stub(e)) for e in sorted(endpoints)), return_exceptions=True
        )
        return [r for r in results if not isinstance(r, BaseException)]

    @property
    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return self._pool.call_metadata

    # -- answered by the router -----------------------------------------------------------
    async def server_live(self, request: Any, context: Context) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, request: Any, context: Context) -> Any:
        ready = any(r.state is ReplicaState.READY for r in self._registry.registrations())
        return pb.ServerReadyResponse(ready=ready)

    async def server_metadata(self, request: Any, context: Context) -> Any:
        return pb.ServerMetadataResponse(
            name="modelport-router", version=__version__, extensions=EXTENSIONS
        )

    async def model_ready(self, request: pb.ModelReadyRequest, context: Context) -> Any:
        try:
            self._registry.ready_replicas(request.name, request.version)
        except ModelportError:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def model_statistics(self, request: pb.ModelStatisticsRequest, context: Context) -> Any:
        endpoints = {
            r.endpoint
            for r in self._registry.registrations()
            if not request.name or r.name == request.name
        }
        if request.name and not endpoints:
            raise NotFound(f"model {request.name!r} is not registered")
        responses = await self._fan_out(
            endpoints,
            lambda stub: stub.ModelStatistics(
                request, timeout=FAN_OUT_TIMEOUT_S, metadata=self._metadata
            ),
        )
        parts = [s for response in responses for s in response.model_stats]
        return pb.ModelStatisticsResponse(model_stats=merge_statistics(parts))

    async def repository_index(self, request: pb.RepositoryIndexRequest, context: Context) -> Any:
        endpoints = self._registry.past_endpoints()  # registered, or deregistered lately
        responses = await self._fan_out(
            endpoints,
            lambda stub: stub.RepositoryIndex(
                request, timeout=FAN_OUT_TIMEOUT_S, metadata=self._metadata
            ),
        )
        best: dict[tuple[str, str], Any] = {}
        for response in responses:
            for entry in response.models:
                key = (entry.name, entry.version)
                if key not in best or STATE_RANK.get(entry.state, 9) < STATE_RANK.get(
                    best[key].state, 9
                ):
                    best[key] = entry
        return pb.RepositoryIndexResponse(models=[best[k] for k in sorted(best)])

    async def _repository_call(self, name: str, method: str, request: Any) -> None:
        """Send a load or unload to every replica of `name`; OK only if all succeeded."""
        if not name:
            raise InvalidArgument("model_name", "is required")
        endpoints = sorted(self._registry.past_endpoints(name))
        if not endpoints:
            raise NotFound(f"model {name!r} has never been registered with this router")
        results = await asyncio.gather(
            *(
                getattr(self._stub(e), method)(
                    request, timeout=FAN_OUT_TIMEOUT_S * 30, metadata=self._metadata
                )
                for e in endpoints
            ),
            return_exceptions=True,
        )
        failed = {
            e: r for e, r in zip(endpoints, results, strict=True) if isinstance(r, BaseException)
        }
        if not failed:
            return
        codes = {_code(error) for error in failed.values()}
        action = method[len("RepositoryModel") :].lower()
        raise ModelportError(
            f"{action} of {name!r} failed on {len(failed)} of {len(endpoints)} replicas: "
            + "; ".join(f"{e}: {_describe(error)}" for e, error in failed.items()),
            code=codes.pop() if len(codes) == 1 else grpc.StatusCode.UNAVAILABLE,
        )

    async def load(self, request: pb.RepositoryModelLoadRequest, context: Context) -> Any:
        await self._repository_call(request.model_name, "RepositoryModelLoad", request)
        return pb.RepositoryModelLoadResponse()

    async def unload(self, request: pb.RepositoryModelUnloadRequest, context: Context) -> Any:
        await self._repository_call(request.model_name, "RepositoryModelUnload", request)
        return pb.RepositoryModelUnloadResponse()


def _code(error: BaseException) -> grpc.StatusCode:
    if isinstance(error, grpc.aio.AioRpcError):
        return error.code()
    return grpc.StatusCode.UNAVAILABLE


def _describe(error: BaseException) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"{error.code().name} {error.details() or ''}".strip()
    return f"{type(error).__name__}: {error}"
