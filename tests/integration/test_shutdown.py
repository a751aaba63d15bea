"""SIGTERM drains: in-flight calls finish, new calls are refused, the process exits 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelport.suite import wait_serving
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc
from tests.helpers import free_port


@pytest.mark.slow
def test_sigterm_drains_in_flight_calls(
    tmp_path: Path, minilm_dir: Path, free_env: dict[str, str]
) -> None:
    port = free_port()
    models_file = tmp_path / "models.yaml"
    models_file.write_text(
        yaml.safe_dump(
            {
                "models": [
                    {
                        "name": "minilm",
                        "runtime": "sentence-embedding",
                        "path": str(minilm_dir),
                        "batching": {"max_batch_size": 16},
                    },
                ]
            }
        )
    )
    env = {
        **free_env,
        "MODELPORT_HOST": "127.0.0.1",
        "MODELPORT_PORT": str(port),
        "MODELPORT_METRICS_PORT": "-1",
        "MODELPORT_MODELS_FILE": str(models_file),
        "MODELPORT_GRACE_PERIOD_S": "60",
        "MODELPORT_DRAIN_DELAY_S": "1",
    }
    process = subprocess.Popen([sys.executable, "-m", "modelport.embedding"], env=env)
    try:
        assert wait_serving(f"127.0.0.1:{port}", 120)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            request = embedding_pb2.EmbedRequest(
                model=common_pb2.ModelRef(name="minilm"), inputs=["many words here " * 40] * 16
            )
            in_flight = [stub.Embed.future(request, timeout=120) for _ in range(12)]
            time.sleep(0.5)
            assert not all(f.done() for f in in_flight), "calls finished before SIGTERM"
            process.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            health = health_pb2_grpc.HealthStub(channel)
            status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
            assert status == health_pb2.HealthCheckResponse.NOT_SERVING
            results = [f.result() for f in in_flight]  # raises if any call failed
            assert all(len(r.embeddings) == 16 for r in results)
            with pytest.raises(grpc.RpcError) as refused:
                stub.Embed(request, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
