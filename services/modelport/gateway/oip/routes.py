"""The `/v2` routes: Open Inference Protocol REST over the router's
`inference.GRPCInferenceService`, and the generate extension over `NlpService`.

Health: `/v2/health/live` is the gateway's own (a process that answers is live);
`/v2/health/ready` asks the router (ServerReady: some model READY). Not ready, a model
not ready, and every error answer with a non-200 status and `{"error": ...}` (the status
codes Triton uses), so `tritonclient.http` reads them as it reads Triton's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from google.protobuf import json_format
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelport import __version__
from modelport.gateway.body import json_body, parse_json
from modelport.gateway.errors import GatewayError, bad_request, oip_error_body
from modelport.gateway.oip import codec
from modelport.gateway.responses import Json, caller, guarded
from modelport.gateway.sse import EventStream, event
from modelport.gateway.upstream import Caller, Router, first_and_rest
from modelport.oip.v2 import open_inference_pb2 as pb
from modelport.v1 import common_pb2, nlp_pb2

SERVICE = "/inference.GRPCInferenceService/"
EXTENSIONS = ("binary_tensor_data", "generate")
"""What the gateway adds to the router's extensions."""
GATEWAY_PARAMETERS = {"binary_data_output"}
TENSOR_PARAMETERS = {"binary_data_size", "binary_data", "content_type"}


def _model(request: Request) -> tuple[str, str]:
    return request.path_params["model"], request.path_params.get("version", "")


def _tensor_metadata(tensors: Any) -> list[dict[str, Any]]:
    return [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in tensors]


def _parameters(parameters: Any) -> dict[str, Any]:
    return {key: codec.parameter_value(value) for key, value in parameters.items()}


def _check_tensor(tensor: Any, where: str) -> dict[str, Any]:
    if not isinstance(tensor, dict):
        raise bad_request(where, "must be a JSON object")
    name = tensor.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request(f"{where}.name", "is required")
    where = f"inputs[{name}]"
    if tensor.get("datatype") not in codec.DATATYPES:
        raise bad_request(f"{where}.datatype", f"must be one of {', '.join(codec.DATATYPES)}")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise bad_request(f"{where}.shape", "must be a list of non-negative integers")
    return tensor


def infer_request(
    name: str, version: str, body: bytes, header_length: str | None
) -> tuple[pb.ModelInferRequest, dict[str, bool], bool]:
    """The gRPC request of a REST infer body (JSON, or JSON + binary tensors), which
    outputs are wanted binary, and whether unrequested outputs are."""
    binary = b""
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise bad_request(
                "Inference-Header-Content-Length", f"must be 0..{len(body)} (the body's size)"
            )
        body, binary = body[: int(header_length)], body[int(header_length) :]
    doc = parse_json(body)
    if not isinstance(doc, dict):
        raise bad_request("body", "must be a JSON object")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad_request("inputs", "must be a non-empty list")
    message = pb.ModelInferRequest(model_name=name, model_version=version)
    if doc.get("id") is not None:
        message.id = str(doc["id"])
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise bad_request("parameters", "must be a JSON object")
    binary_default = bool(parameters.get("binary_data_output", False))
    for key, value in parameters.items():
        if key not in GATEWAY_PARAMETERS:
            codec.set_parameter(message.parameters[key], value, f"parameters.{key}")
    offset = 0
    for i, raw_tensor in enumerate(inputs):
        tensor = _check_tensor(raw_tensor, f"inputs[{i}]")
        where = f"inputs[{tensor['name']}]"
        tensor_parameters = tensor.get("parameters") or {}
        size = tensor_parameters.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise bad_request(
                    f"{where}.parameters.binary_data_size",
                    f"must fit the {len(binary) - offset} bytes of binary data left",
                )
            data = binary[offset : offset + size]
            offset += size
            codec.check_raw(tensor, data, where)
        else:
            data = codec.json_to_raw(tensor, where)
        added = message.inputs.add(
            name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
        )
        for key, value in tensor_parameters.items():
            if key not in TENSOR_PARAMETERS:
                codec.set_parameter(added.parameters[key], value, f"{where}.parameters.{key}")
        message.raw_input_contents.append(data)
    if offset != len(binary):
        raise bad_request(
            "body", f"{len(binary) - offset} bytes of binary data follow the inputs' data"
        )
    wanted: dict[str, bool] = {}
    for i, output in enumerate(doc.get("outputs") or []):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise bad_request(f"outputs[{i}].name", "is required")
        output_parameters = output.get("parameters") or {}
        if output_parameters.get("classification"):
            raise bad_request(f"outputs[{output['name']}]", "classification is not supported")
        wanted[output["name"]] = bool(output_parameters.get("binary_data", binary_default))
        added_output = message.outputs.add(name=output["name"])
        for key, value in output_parameters.items():
            if key not in TENSOR_PARAMETERS and key != "classification":
                codec.set_parameter(
                    added_output.parameters[key], value, f"outputs[{output['name']}].{key}"
                )
    return message, wanted, binary_default


def infer_response(
    response: pb.ModelInferResponse, wanted: dict[str, bool], binary_default: bool
) -> Response:
    """JSON, or JSON header + binary tensors when any output is wanted binary."""
    outputs, blobs = [], []
    raw_outputs = list(response.raw_output_contents)
    for i, output in enumerate(response.outputs):
        raw = (
            raw_outputs[i]
            if raw_outputs
            else codec.contents_to_raw(output.datatype, output.contents)
        )
        entry: dict[str, Any] = {
            "name": output.name,
            "datatype": output.datatype,
            "shape": list(output.shape),
        }
        parameters = _parameters(output.parameters)
        if wanted.get(output.name, binary_default):
            parameters["binary_data_size"] = len(raw)
            blobs.append(raw)
        else:
            entry["data"], extra = codec.raw_to_json(
                output.datatype, raw, f"outputs[{output.name}]"
            )
            parameters.update(extra)
        if parameters:
            entry["parameters"] = parameters
        outputs.append(entry)
    header: dict[str, Any] = {"model_name": response.model_name}
    if response.model_version:
        header["model_version"] = response.model_version
    if response.id:
        header["id"] = response.id
    if response.parameters:
        header["parameters"] = _parameters(response.parameters)
    header["outputs"] = outputs
    if not blobs:
        return Json(header)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return Response(
        encoded + b"".join(blobs),
        media_type="application/octet-stream",
        headers={"inference-header-content-length": str(len(encoded))},
    )


def generation_parameters(parameters: Any) -> nlp_pb2.GenerationParameters:
    """The generate extension's `parameters` as `GenerationParameters`."""
    if not isinstance(parameters, dict):
        raise bad_request("parameters", "must be a JSON object")
    out = nlp_pb2.GenerationParameters()
    try:
        limit = parameters.get("max_tokens", parameters.get("max_new_tokens"))
        out.max_new_tokens = int(limit or 0)
        temperature = parameters.get("temperature")
        if temperature:
            out.do_sample = True
            out.temperature = float(temperature)
        if parameters.get("do_sample"):
            out.do_sample = True
        for name in ("top_p", "repetition_penalty"):
            if parameters.get(name) is not None:
                setattr(out, name, float(parameters[name]))
        for name in ("top_k", "seed"):
            if parameters.get(name) is not None:
                setattr(out, name, int(parameters[name]))
    except (TypeError, ValueError) as exc:
        raise bad_request(
            "parameters", f"a generation parameter has the wrong type: {exc}"
        ) from exc
    stop = parameters.get("stop") or []
    out.stop.extend([stop] if isinstance(stop, str) else [str(s) for s in stop])
    return out


class OipRoutes:
    def __init__(self, router: Router, heartbeat_s: float) -> None:
        self._router = router
        self._heartbeat_s = heartbeat_s

    async def _call(self, method: str, request: Any, response_type: Any, who: Caller) -> Any:
        return await self._router.unary(SERVICE + method, request, response_type, who)

    async def live(self, request: Request) -> Response:
        return Json({"live": True})

    async def ready(self, request: Request) -> Response:
        answer = await self._call(
            "ServerReady", pb.ServerReadyRequest(), pb.ServerReadyResponse, caller(request)
        )
        return Json({"ready": answer.ready}, 200 if answer.ready else 503)

    async def server_metadata(self, request: Request) -> Response:
        answer = await self._call(
            "ServerMetadata", pb.ServerMetadataRequest(), pb.ServerMetadataResponse, caller(request)
        )
        extensions = [*answer.extensions, *(e for e in EXTENSIONS if e not in answer.extensions)]
        return Json(
            {
                "name": answer.name or "modelport",
                "version": answer.version or __version__,
                "extensions": extensions,
            }
        )

    async def model_metadata(self, request: Request) -> Response:
        name, version = _model(request)
        answer = await self._call(
            "ModelMetadata",
            pb.ModelMetadataRequest(name=name, version=version),
            pb.ModelMetadataResponse,
            caller(request),
        )
        return Json(
            {
                "name": answer.name,
                "versions": list(answer.versions),
                "platform": answer.platform,
                "inputs": _tensor_metadata(answer.inputs),
                "outputs": _tensor_metadata(answer.outputs),
            }
        )

    async def model_ready(self, request: Request) -> Response:
        name, version = _model(request)
        answer = await self._call(
            "ModelReady",
            pb.ModelReadyRequest(name=name, version=version),
            pb.ModelReadyResponse,
            caller(request),
        )
        return Json({"name": name, "ready": answer.ready}, 200 if answer.ready else 400)

    async def model_config(self, request: Request) -> Response:
        name, version = _model(request)
        answer = await self._call(
            "ModelConfig",
            pb.ModelConfigRequest(name=name, version=version),
            pb.ModelConfigResponse,
            caller(request),
        )
        return Json(json_format.MessageToDict(answer.config, preserving_proto_field_name=True))

    async def statistics(self, request: Request) -> Response:
        name, version = request.path_params.get("model", ""), request.path_params.get("version", "")
        answer = await self._call(
            "ModelStatistics",
            pb.ModelStatisticsRequest(name=name, version=version),
            pb.ModelStatisticsResponse,
            caller(request),
        )
        return Json(json_format.MessageToDict(answer, preserving_proto_field_name=True))

    async def infer(self, request: Request) -> Response:
        name, version = _model(request)
        message, wanted, binary_default = infer_request(
            name,
            version,
            await request.body(),
            request.headers.get("inference-header-content-length"),
        )
        answer = await self._call("ModelInfer", message, pb.ModelInferResponse, caller(request))
        return infer_response(answer, wanted, binary_default)

    def _generate_request(self, request: Request, doc: Any) -> nlp_pb2.GenerateRequest:
        name, version = _model(request)
        if not isinstance(doc, dict):
            raise bad_request("body", "must be a JSON object")
        text = doc.get("text_input")
        if not isinstance(text, str) or not text:
            raise bad_request("text_input", "is required (a non-empty string)")
        return nlp_pb2.GenerateRequest(
            model=common_pb2.ModelRef(name=name, version=version),
            prompts=[text],
            parameters=generation_parameters(doc.get("parameters") or {}),
        )

    async def generate(self, request: Request) -> Response:
        message = self._generate_request(request, await json_body(request))
        answer = await self._router.unary(
            "/modelport.v1.NlpService/Generate", message, nlp_pb2.GenerateResponse, caller(request)
        )
        generation = answer.generations[0]
        return Json(
            {
                "model_name": answer.model.name,
                "model_version": answer.model.version,
                "text_output": generation.text,
                "finish_reason": _finish(generation.finish_reason),
            }
        )

    async def generate_stream(self, request: Request) -> Response:
        message = self._generate_request(request, await json_body(request))
        call = self._router.server_stream(
            "/modelport.v1.NlpService/GenerateStream",
            message,
            nlp_pb2.GenerateStreamResponse,
            caller(request),
        )
        _, chunks = await first_and_rest(call, caller(request))

        async def events() -> AsyncIterator[bytes]:
            try:
                async for chunk in chunks:
                    payload: dict[str, Any] = {
                        "model_name": chunk.model.name,
                        "model_version": chunk.model.version,
                        "text_output": chunk.text,
                    }
                    if chunk.finish_reason:
                        payload["finish_reason"] = _finish(chunk.finish_reason)
                    yield event(payload)
            except GatewayError as exc:
                yield event(oip_error_body(exc))

        return EventStream(events(), self._heartbeat_s)

    async def repository_index(self, request: Request) -> Response:
        raw = await request.body()
        doc = parse_json(raw) if raw.strip() else {}
        ready = bool(doc.get("ready", False)) if isinstance(doc, dict) else False
        answer = await self._call(
            "RepositoryIndex",
            pb.RepositoryIndexRequest(ready=ready),
            pb.RepositoryIndexResponse,
            caller(request),
        )
        return Json(
            [
                {"name": m.name, "version": m.version, "state": m.state, "reason": m.reason}
                for m in answer.models
            ]
        )

    async def _repository(
        self, request: Request, method: str, message: Any, response_type: Any
    ) -> Response:
        raw = await request.body()
        doc = parse_json(raw) if raw.strip() else {}
        parameters = doc.get("parameters") if isinstance(doc, dict) else None
        for key, value in (parameters or {}).items():
            if isinstance(value, float):  # ModelRepositoryParameter has no double
                raise bad_request(f"parameters.{key}", "must be a boolean, integer or string")
            codec.set_parameter(message.parameters[key], value, f"parameters.{key}")
        await self._call(method, message, response_type, caller(request))
        return Json({})

    async def load(self, request: Request) -> Response:
        message = pb.RepositoryModelLoadRequest(model_name=request.path_params["model"])
        return await self._repository(
            request, "RepositoryModelLoad", message, pb.RepositoryModelLoadResponse
        )

    async def unload(self, request: Request) -> Response:
        message = pb.RepositoryModelUnloadRequest(model_name=request.path_params["model"])
        return await self._repository(
            request, "RepositoryModelUnload", message, pb.RepositoryModelUnloadResponse
        )

    def routes(self) -> list[Route]:
        def both(suffix: str, endpoint: Any, methods: list[str]) -> list[Route]:
            handler = guarded("oip", endpoint)
            return [
                Route(f"/v2/models/{{model}}{suffix}", handler, methods=methods),
                Route(
                    f"/v2/models/{{model}}/versions/{{version}}{suffix}", handler, methods=methods
                ),
            ]

        return [
            Route("/v2/health/live", guarded("oip", self.live), methods=["GET"]),
            Route("/v2/health/ready", guarded("oip", self.ready), methods=["GET"]),
            Route("/v2", guarded("oip", self.server_metadata), methods=["GET"]),
            Route("/v2/models/stats", guarded("oip", self.statistics), methods=["GET"]),
            Route("/v2/repository/index", guarded("oip", self.repository_index), methods=["POST"]),
            Route(
                "/v2/repository/models/{model}/load", guarded("oip", self.load), methods=["POST"]
            ),
            Route(
                "/v2/repository/models/{model}/unload",
                guarded("oip", self.unload),
                methods=["POST"],
            ),
            *both("", self.model_metadata, ["GET"]),
            *both("/ready", self.model_ready, ["GET"]),
            *both("/config", self.model_config, ["GET"]),
            *both("/stats", self.statistics, ["GET"]),
            *both("/infer", self.infer, ["POST"]),
            *both("/generate", self.generate, ["POST"]),
            *both("/generate_stream", self.generate_stream, ["POST"]),
        ]


FINISH: dict[int, str] = {
    nlp_pb2.FINISH_REASON_LENGTH: "length",
    nlp_pb2.FINISH_REASON_EOS: "stop",
    nlp_pb2.FINISH_REASON_STOP_SEQUENCE: "stop",
}


def _finish(reason: int) -> str:
    return FINISH.get(reason, "")
