"""What the router tells a caller it cannot serve, with a real router and a real backend
process whose model load waits for a gate: a model that is still loading is listed LOADING
and its calls are told to retry (never NOT_FOUND); a model called through another task's
service is told which RPC serves it; an unknown name gets the names it resembles; the
router answers per-model health checks (`model/<name>`) like a backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc, registry_pb2
from tests.cluster import (
    MODEL,
    embedding,
    registry,
    request,
    router_process,
    stop_all,
    tiny,
    wait_replicas,
)
from tests.helpers import ServiceProcess, free_port, retry_delay

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def model_health(router: ServiceProcess) -> int:
    """The router's `grpc.health.v1` status of `model/<MODEL>`, as a probe asks it."""
    with grpc.insecure_channel(router.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        request_ = health_pb2.HealthCheckRequest(service=f"model/{MODEL}")
        return int(health.Check(request_, timeout=5).status)


def test_a_loading_model_is_listed_loading_and_its_calls_are_told_to_retry(
    tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> None:
    router = router_process(free_env, tmp_path / "data").start().wait_serving()
    gate = tmp_path / "gate"
    backend = ServiceProcess(
        "tests.gated_embedding",
        {
            **free_env,
            "PYTHONPATH": f"{ROOT}:{free_env.get('PYTHONPATH', '')}",
            "MODELPORT_ROUTER_ADDRESS": router.address,
            "MODELPORT_MODELS_FILE": str(tiny(tmp_path, tiny_bert_dir)),
            "MODELPORT_LEASE_TTL_S": "3",
            "MODELPORT_TORCH_THREADS": "1",
            "MODELPORT_TEST_LOAD_GATE": str(gate),
        },
        free_port(),
    ).start()
    try:
        wait_replicas(router, 1, state=common_pb2.MODEL_STATE_LOADING)
        listed = registry(router).ListModels(registry_pb2.ListModelsRequest(), timeout=5)
        assert [(m.name, [v.state for v in m.versions]) for m in listed.models] == [
            (MODEL, [common_pb2.MODEL_STATE_LOADING])
        ]
        shown = subprocess.run(
            [sys.executable, "-m", "modelport.cli", "models", "--target", router.address],
            env=free_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert any(
            line.split()[:1] == [MODEL] and "LOADING" in line for line in shown.stdout.splitlines()
        ), shown.stdout

        assert model_health(router) == health_pb2.HealthCheckResponse.NOT_SERVING
        for _ in range(3):  # every call in the loading window, not just the first
            with pytest.raises(grpc.RpcError) as info:
                embedding(router).Embed(request(), timeout=10)
            error = info.value
            assert isinstance(error, grpc.Call)
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
            assert error.details() == f"model {MODEL!r} is loading; retry"
            assert retry_delay(error) is not None

        gate.touch()
        wait_replicas(router, 1)
        response = embedding(router).Embed(request(), timeout=30)
        assert len(response.embeddings) == 1
        assert model_health(router) == health_pb2.HealthCheckResponse.SERVING

        nlp = nlp_pb2_grpc.NlpServiceStub(grpc.insecure_channel(router.address))
        with pytest.raises(grpc.RpcError) as info:
            nlp.Classify(nlp_pb2.ClassifyRequest(model=request().model, inputs=["x"]), timeout=10)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert info.value.details() == (
            f"model {MODEL!r} is an embedding model: call "
            "modelport.v1.EmbeddingService/Embed or EmbedStream "
            "(NlpService/Classify serves text-classification models)"
        )
        with pytest.raises(grpc.RpcError) as info:
            embedding(router).Embed(request(name=MODEL.upper()), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert f"did you mean {MODEL!r}?" in (info.value.details() or "")
    finally:
        gate.touch()  # the load thread must not wait forever: the process could not exit
        stop_all(backend, router)
