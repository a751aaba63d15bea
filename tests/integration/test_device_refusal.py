"""A model whose spec asks for a GPU (`device: cuda`) on a process where CUDA is not usable
fails to load, loudly: FAILED with the reason in ListModels, its calls refused, and the
process never reports SERVING (a GPU pod that cannot use its GPU is never Ready) — not a
silent fall back to the CPU. Real servers, real models; the machine has no GPU, so this is
the path a test can take (skipped where CUDA works)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import grpc
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelport.embedding.__main__ import build as build_embedding
from modelport.embedding.settings import EmbeddingSettings
from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from modelport.vision.__main__ import build as build_vision
from modelport.vision.__main__ import default_models as vision_defaults
from modelport.vision.settings import RapidOcrSpec, VisionSettings
from tests.helpers import (
    ServiceProcess,
    free_port,
    loopback_settings,
    models_file,
    rpc_error,
    running_server,
)

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is usable here")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health(channel: grpc.Channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    status: int = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
    return status


def listed(channel: grpc.Channel) -> dict[str, tuple[int, str]]:
    models = registry_pb2_grpc.RegistryServiceStub(channel).ListModels(
        registry_pb2.ListModelsRequest(), timeout=5
    )
    return {m.name: (m.versions[0].state, m.versions[0].replicas[0].reason) for m in models.models}


@pytest.fixture(scope="module")
def server(
    tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InferenceServer]:
    models = [
        ModelSpec(name="gpu", runtime="sentence-embedding", path=tiny_bert_dir, device="cuda"),
        ModelSpec(name="cpu", runtime="sentence-embedding", path=tiny_bert_dir, device="cpu"),
    ]
    settings = loopback_settings(EmbeddingSettings, cache_dir=tmp_path_factory.mktemp("cache"))
    with running_server(build_embedding, settings, models) as srv:
        yield srv


def test_the_gpu_model_fails_with_the_reason_and_the_process_is_not_serving(
    server: InferenceServer,
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        models = listed(channel)
        state, reason = models["gpu"]
        assert state == common_pb2.MODEL_STATE_FAILED
        assert "device: cuda, but CUDA is not usable here" in reason, reason
        assert f"torch {torch.__version__}" in reason, reason
        assert "does not fall back to the CPU" in reason
        assert models["cpu"] == (common_pb2.MODEL_STATE_READY, "")
        assert health(channel) == NOT_SERVING  # the CPU model is READY: still not Ready
        assert health(channel, "model/gpu") == NOT_SERVING
        assert health(channel, "model/cpu") == SERVING
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        error = rpc_error(
            lambda: stub.Embed(
                embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="gpu"), inputs=["x"]),
                timeout=10,
            )
        )
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "CUDA is not usable" in (error.details() or "")


def test_an_onnx_runtime_model_asking_for_cuda_fails_without_the_cuda_provider() -> None:
    settings = loopback_settings(VisionSettings)
    with (
        running_server(build_vision, settings, [RapidOcrSpec(name="ocr", device="cuda")]) as srv,
        grpc.insecure_channel(f"127.0.0.1:{srv.port}") as channel,
    ):
        state, reason = listed(channel)["ocr"]
        assert state == common_pb2.MODEL_STATE_FAILED
        assert "device: cuda, but CUDA is not usable here" in reason, reason
        assert "CUDAExecutionProvider" in reason
        assert health(channel) == NOT_SERVING


@pytest.mark.parametrize("default_device", ["auto", "cpu", "cuda"])
def test_auto_follows_the_process_default_device(
    tiny_bert_dir: Path, tmp_path: Path, default_device: Literal["auto", "cpu", "cuda"]
) -> None:
    """`device: auto` still runs on the CPU and serves, unless the process's
    MODELPORT_DEFAULT_DEVICE is cuda (the chart's GPU backends): then it asks for the GPU
    and fails with the reason instead of serving on the CPU."""
    settings = loopback_settings(
        EmbeddingSettings, cache_dir=tmp_path, default_device=default_device
    )
    spec = ModelSpec(name="auto", runtime="sentence-embedding", path=tiny_bert_dir, engine="torch")
    with (
        running_server(build_embedding, settings, [spec]) as srv,
        grpc.insecure_channel(f"127.0.0.1:{srv.port}") as channel,
    ):
        state, reason = listed(channel)["auto"]
        if default_device != "cuda":
            assert (state, reason) == (common_pb2.MODEL_STATE_READY, "")
            assert health(channel) == SERVING
            return
        assert state == common_pb2.MODEL_STATE_FAILED
        assert "device: cuda, but CUDA is not usable here" in reason, reason
        assert "MODELPORT_DEFAULT_DEVICE" in reason
        assert health(channel) == NOT_SERVING


def test_the_vision_defaults_on_a_cuda_process_fail_the_torch_model_keep_ocr_on_cpu(
    tmp_path: Path,
) -> None:
    """The built-in vision models on a GPU backend: the torch classifier asks for CUDA and
    fails; RapidOCR (CPU ONNX Runtime) keeps the CPU and is READY; the process is not."""
    settings = loopback_settings(VisionSettings, cache_dir=tmp_path, default_device="cuda")
    with (
        running_server(build_vision, settings, vision_defaults()) as srv,
        grpc.insecure_channel(f"127.0.0.1:{srv.port}") as channel,
    ):
        models = listed(channel)
        state, reason = models["efficientnet-lite0"]
        assert state == common_pb2.MODEL_STATE_FAILED
        assert "device: cuda, but CUDA is not usable here" in reason, reason
        assert models["ocr"] == (common_pb2.MODEL_STATE_READY, "")
        assert health(channel) == NOT_SERVING
        assert health(channel, "model/ocr") == SERVING


def test_a_service_process_with_default_device_cuda_never_serves_on_the_cpu(
    tiny_bert_dir: Path, tmp_path: Path, free_env: dict[str, str]
) -> None:
    """`python -m modelport.embedding` with `MODELPORT_DEFAULT_DEVICE=cuda` in its
    environment (what the chart sets on GPU backends) and a model config that says nothing
    of devices: the model ends FAILED with the reason and the process stays NOT_SERVING."""
    config = models_file(
        tmp_path / "models.yaml",
        {"name": "plain", "runtime": "sentence-embedding", "path": str(tiny_bert_dir)},
    )
    env = {**free_env, "MODELPORT_DEFAULT_DEVICE": "cuda", "MODELPORT_MODELS_FILE": str(config)}
    process = ServiceProcess("modelport.embedding", env, free_port()).start()
    try:
        with grpc.insecure_channel(process.address) as channel:
            grpc.channel_ready_future(channel).result(timeout=120)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # the server answers while models load
                try:
                    state, reason = listed(channel).get("plain", (None, ""))
                except grpc.RpcError:
                    state = None
                if state == common_pb2.MODEL_STATE_FAILED:
                    break
                assert state != common_pb2.MODEL_STATE_READY, "served on the CPU"
                time.sleep(0.2)
            assert state == common_pb2.MODEL_STATE_FAILED, state
            assert "device: cuda, but CUDA is not usable here" in reason, reason
            assert health(channel) == NOT_SERVING
    finally:
        process.stop()
