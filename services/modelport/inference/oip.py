"""`inference.GRPCInferenceService` (Open Inference Protocol v2) on an inference backend.

Generic over the service: each task maps tensors onto the service's own handler through
an adapter given by the composition root (see `embedding/oip.py`, `nlp/oip.py`,
`vision/oip.py`). Adapters see decoded tensors, never protobuf.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc

from modelport import __version__
from modelport.inference.batching import DynamicBatcher
from modelport.inference.model import TensorSpec
from modelport.inference.repository import SERVABLE, ManagedModel, ModelRepository
from modelport.inference.stats import Duration, ModelStats, RequestStats
from modelport.inference.tensors import Output, Tensor, decode_input, encode_output, parameter_value
from modelport.oip import EXTENSIONS
from modelport.oip.v2 import open_inference_pb2 as pb
from modelport.oip.v2 import open_inference_pb2_grpc as pb_grpc
from modelport.serving.calls import record_model
from modelport.serving.catalog import ModelState, Task
from modelport.serving.errors import InvalidArgument, ModelportError, NotFound, Unimplemented

Context = grpc.aio.ServicerContext[Any, Any]
Inputs = dict[str, Tensor]
Params = dict[str, Any]
Infer = Callable[[ManagedModel, Inputs, Params], Awaitable[list[Output]]]
StreamInfer = Callable[[ManagedModel, Inputs, Params], AsyncIterator[list[Output]]]


INDEX_STATE = {
    ModelState.READY: "READY",
    ModelState.LOADING: "LOADING",
    ModelState.FAILED: "UNAVAILABLE",
    ModelState.UNLOADING: "UNLOADING",
    ModelState.NOT_LOADED: "NOT_LOADED",
    ModelState.EVICTED: "EVICTED",
}


@dataclass(frozen=True)
class TaskAdapter:
    """How one task answers ModelInfer (and, for generation, streams)."""

    infer: Infer
    stream: StreamInfer | None = None


def _duration(d: Duration) -> pb.StatisticDuration:
    return pb.StatisticDuration(count=d.count, ns=d.ns)


def statistics(
    name: str, version: str, stats: ModelStats, requests: ModelStats
) -> pb.ModelStatistics:
    """Triton's statistics of one model version: what its scheduler ran (`stats`) and how
    its requests ended (`requests`, any protocol)."""
    return pb.ModelStatistics(
        name=name,
        version=version,
        last_inference=stats.last_inference_ms,
        inference_count=stats.inference_count,
        execution_count=stats.execution_count,
        inference_stats=pb.InferStatistics(
            success=_duration(requests.success),
            fail=_duration(requests.fail),
            queue=_duration(stats.queue),
            compute_infer=_duration(stats.compute_infer),
        ),
        batch_stats=[
            pb.InferBatchStatistics(batch_size=size, compute_infer=_duration(d))
            for size, d in sorted(stats.batches.items())
        ],
    )


def _tensor_config(spec: TensorSpec, message: Any) -> None:
    """Datatype and dims of one tensor in Triton's terms: dims leave out the batch (the
    first dimension of every Modelport tensor); a tensor that is the batch alone is dims
    [1] reshaped to [] inside the model, as Triton writes it."""
    message.name = spec.name
    message.data_type = (
        pb.TYPE_STRING if spec.datatype == "BYTES" else pb.DataType.Value(f"TYPE_{spec.datatype}")
    )
    if len(spec.shape) > 1:
        message.dims.extend(spec.shape[1:])
    else:
        message.dims.append(1)
        message.reshape.SetInParent()


def model_config(managed: ManagedModel) -> pb.ModelConfig:
    """Triton's ModelConfig of a loaded model: platform, batching and tensors."""
    metadata = managed.model.metadata()
    config = pb.ModelConfig(
        name=managed.name,
        platform=f"modelport/{managed.spec.runtime}",
        backend="modelport",
        runtime=managed.spec.runtime,
    )
    if isinstance(managed.scheduler, DynamicBatcher):
        batching = managed.spec.batching
        config.max_batch_size = batching.max_batch_size
        config.dynamic_batching.preferred_batch_size.append(batching.max_batch_size)
        config.dynamic_batching.max_queue_delay_microseconds = int(
            batching.max_queue_delay_ms * 1000
        )
    else:  # a decoding loop: the sequences it decodes together
        config.max_batch_size = managed.spec.generation.max_running
    for spec in metadata.inputs:
        _tensor_config(spec, config.input.add())
    for spec in metadata.outputs:
        _tensor_config(spec, config.output.add())
    for key, value in metadata.properties.items():
        config.parameters[key].string_value = value
    return config


def index_reason(managed: ManagedModel) -> str:
    """The repository index's `reason` of a model: why it FAILED, or (the index has no other
    field for them) its memory, last use and pin, as `size_bytes=N measured|estimated;
    last_used=<RFC 3339>|never; pinned=true|false`."""
    if managed.state is ModelState.FAILED:
        return managed.reason
    size = f"size_bytes={managed.size_bytes} {'measured' if managed.measured else 'estimated'}"
    used = (
        datetime.fromtimestamp(managed.last_used, UTC).isoformat(timespec="seconds")
        if managed.last_used
        else "never"
    )
    return f"{size}; last_used={used}; pinned={str(managed.pinned).lower()}"


class OipServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(
        self,
        repository: ModelRepository,
        adapters: dict[Task, TaskAdapter],
        ready: Callable[[], bool],
        requests: RequestStats,
    ) -> None:
        self._repository = repository
        self._adapters = adapters
        self._ready = ready
        self._requests = requests
        """How requests ended, any protocol: ModelInfer is counted by the observability
        interceptor like every unary call; each ModelStreamInfer message here."""

    # -- server and model state ---------------------------------------------------------
    async def ServerLive(self, request: pb.ServerLiveRequest, context: Context) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: Context) -> Any:
        return pb.ServerReadyResponse(ready=self._ready())

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context: Context) -> Any:
        return pb.ServerMetadataResponse(
            name="modelport", version=__version__, extensions=EXTENSIONS
        )

    async def ModelReady(self, request: pb.ModelReadyRequest, context: Context) -> Any:
        try:
            self._repository.get(request.name, request.version)
        except ModelportError:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: Context) -> Any:
        managed = self._repository.get(request.name, request.version)
        metadata = managed.model.metadata()

        def tensors(specs: Any) -> list[Any]:
            return [
                pb.ModelMetadataResponse.TensorMetadata(
                    name=t.name, datatype=t.datatype, shape=list(t.shape)
                )
                for t in specs
            ]

        versions = [m.version for m in self._repository.models() if m.name == managed.name]
        return pb.ModelMetadataResponse(
            name=managed.name,
            versions=versions,
            platform=f"modelport/{managed.spec.runtime}",
            inputs=tensors(metadata.inputs),
            outputs=tensors(metadata.outputs),
        )

    async def ModelConfig(self, request: pb.ModelConfigRequest, context: Context) -> Any:
        managed = self._repository.get(request.name, request.version)
        return pb.ModelConfigResponse(config=model_config(managed))

    # -- inference --------------------------------------------------------------------------
    def _prepare(
        self, request: pb.ModelInferRequest, context: Context
    ) -> tuple[ManagedModel, TaskAdapter, Inputs, Params]:
        managed = self._repository.get(request.model_name, request.model_version)
        record_model(context, managed.name, managed.version)
        adapter = self._adapters.get(managed.model.task)
        if adapter is None:
            raise Unimplemented(f"model {managed.name!r} is not served over this protocol")
        raw = list(request.raw_input_contents)
        if raw and len(raw) != len(request.inputs):
            raise InvalidArgument(
                "raw_input_contents", f"has {len(raw)} entries for {len(request.inputs)} inputs"
            )
        inputs = {
            t.name: decode_input(t, raw[i] if raw else None) for i, t in enumerate(request.inputs)
        }
        params = {k: parameter_value(v) for k, v in request.parameters.items()}
        return managed, adapter, inputs, params

    def _response(
        self,
        request: pb.ModelInferRequest,
        managed: ManagedModel,
        outputs: list[Output],
        final: bool | None = None,
    ) -> pb.ModelInferResponse:
        wanted = [o.name for o in request.outputs]
        names = {o.name for o in outputs}
        for name in wanted:
            if name not in names:
                raise InvalidArgument(f"outputs[{name}]", "is not an output of the model")
        raw = bool(request.raw_input_contents)
        response = pb.ModelInferResponse(
            model_name=managed.name, model_version=managed.version, id=request.id
        )
        for output in outputs:
            if wanted and output.name not in wanted:
                continue
            data = encode_output(output, response.outputs.add(), raw)
            if data is not None:
                response.raw_output_contents.append(data)
        if final is not None:
            response.parameters["triton_final_response"].bool_param = final
        return response

    def _count(self, managed: ManagedModel, ok: bool, start: float) -> None:
        self._requests.ended(managed.name, managed.version, ok, time.perf_counter() - start)

    async def ModelInfer(self, request: pb.ModelInferRequest, context: Context) -> Any:
        managed, adapter, inputs, params = self._prepare(request, context)
        outputs = await adapter.infer(managed, inputs, params)
        return self._response(request, managed, outputs)

    async def ModelStreamInfer(
        self, request_iterator: AsyncIterator[pb.ModelInferRequest], context: Context
    ) -> AsyncIterator[pb.ModelStreamInferResponse]:
        async for request in request_iterator:
            try:
                start = time.perf_counter()
                managed, adapter, inputs, params = self._prepare(request, context)
                try:
                    if adapter.stream is None:
                        outputs = await adapter.infer(managed, inputs, params)
                        response = self._response(request, managed, outputs)
                        yield pb.ModelStreamInferResponse(infer_response=response)
                    else:
                        async for outputs in adapter.stream(managed, inputs, params):
                            yield pb.ModelStreamInferResponse(
                                infer_response=self._response(request, managed, outputs, False)
                            )
                        yield pb.ModelStreamInferResponse(
                            infer_response=self._response(request, managed, [], True)
                        )
                except BaseException:
                    self._count(managed, False, start)
                    raise
                self._count(managed, True, start)
            except ModelportError as exc:  # one failed request does not end the stream
                yield pb.ModelStreamInferResponse(
                    error_message=f"{exc.code.name}: {exc.message}",
                    infer_response=pb.ModelInferResponse(id=request.id),
                )

    # -- statistics and repository ------------------------------------------------------
    async def ModelStatistics(self, request: pb.ModelStatisticsRequest, context: Context) -> Any:
        models = [
            m
            for m in self._repository.models()
            if (not request.name or m.name == request.name)
            and (not request.version or m.version == request.version)
        ]
        if request.name and not models:
            raise NotFound(f"model {request.name!r} is not loaded")
        return pb.ModelStatisticsResponse(
            model_stats=[
                statistics(
                    m.name,
                    m.version,
                    m.stats,
                    self._requests.of(m.name, m.version),
                )
                for m in models
            ]
        )

    async def RepositoryIndex(self, request: pb.RepositoryIndexRequest, context: Context) -> Any:
        entries = [
            pb.RepositoryIndexResponse.ModelIndex(
                name=m.name, version=m.version, state=INDEX_STATE[m.state], reason=index_reason(m)
            )
            for m in self._repository.models()
        ]
        if not request.ready:
            entries += [
                pb.RepositoryIndexResponse.ModelIndex(
                    name=s.name, version=s.version, state="UNAVAILABLE", reason="unloaded"
                )
                for s in self._repository.unloaded()
            ]
        else:
            entries = [e for e in entries if e.state == "READY"]
        return pb.RepositoryIndexResponse(models=entries)

    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, context: Context
    ) -> Any:
        if not request.model_name:
            raise InvalidArgument("model_name", "is required")
        await self._repository.load_by_name(request.model_name)
        return pb.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context: Context
    ) -> Any:
        if not request.model_name:
            raise InvalidArgument("model_name", "is required")
        await self._repository.unload_by_name(request.model_name)
        return pb.RepositoryModelUnloadResponse()


def oip_binding(
    repository: ModelRepository, adapters: dict[Task, TaskAdapter], requests: RequestStats
) -> Any:
    """The ServiceBinding of the OIP service for a backend's composition root."""
    from modelport.serving.server import ServiceBinding

    servicer = OipServicer(
        repository,
        adapters,
        ready=lambda: any(m.state in SERVABLE for m in repository.models()),
        requests=requests,
    )
    name = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name
    return ServiceBinding(
        name, lambda server: pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    )
