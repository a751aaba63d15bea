"""The images, run for real: `make images` builds them (scripts/router-image.sh and
scripts/inference-image.sh: buildah, chroot isolation, on a Debian base made by
debootstrap) before pytest starts; the tests run them with podman and runc. The router
container answers its health check; the CPU inference container, non-root on a read-only
root filesystem with writable /cache and /tmp volumes (as the chart runs it), registers
its embedding model with a router on the host and answers an Embed call through it, and
the image holds no CUDA library. Each image is labelled with a digest of its sources, so a
test never runs a stale one."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import grpc
import pytest

from modelport.suite import wait_serving
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc
from tests import prepared
from tests.cluster import router_process, stop_all, wait_replicas
from tests.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def sh(*args: str, timeout: float = 120) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(args)}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout


LIMITS = ("--ulimit", "nproc=512:512", "--ulimit", "nofile=1024:1024")
MAX_INFERENCE_IMAGE_BYTES = 3_000_000_000
"""The CPU inference image is ~2.4 GB (torch CPU ~0.9 GB, the packaged models ~0.4 GB);
a CUDA torch with its nvidia-* wheels would add several GB."""
CUDA_LIBRARIES = ("libcudart*", "libcublas*", "libcudnn*", "libnccl*", "libnvrtc*", "libcufft*")
SENTENCES = ["A cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell sharply."]


def start(name: str, image: str, service: str, port: int, *options: str, **env: str) -> None:
    """Run `image` serving `service` on loopback `port` (host network) as container `name`."""
    variables = {"HOST": "127.0.0.1", "PORT": str(port), "METRICS_PORT": "-1", **env}
    sh(
        "podman",
        "run",
        "-d",
        "--name",
        name,
        "--runtime",
        "runc",
        "--network",
        "host",
        *LIMITS,
        *options,
        *(a for key, value in variables.items() for a in ("-e", f"MODELPORT_{key}={value}")),
        image,
        "serve",
        service,
    )


def test_router_image_runs_as_non_root_and_serves_health() -> None:
    image = prepared.router_image()
    port = free_port()
    name = f"modelport-router-test-{port}"
    start(name, image, "router", port)
    try:
        assert wait_serving(f"127.0.0.1:{port}", 60), sh("podman", "logs", name)
        assert sh("podman", "exec", name, "id", "-u").strip() == "10001"
        modules = sh(
            "podman",
            "exec",
            name,
            "python3",
            "-c",
            "import sys, modelport.router.__main__; print('torch' in sys.modules)",
        )
        assert modules.strip() == "False"
        # tracing's exporter loads: opentelemetry-proto's modules, not xds-protos' older copy
        otlp = "from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter"
        sh("podman", "exec", name, "python3", "-c", otlp)
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True)


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_cpu_inference_image_serves_embed_through_a_router_read_only_as_non_root(
    free_env: dict[str, str], tmp_path: Path
) -> None:
    image = prepared.inference_image()
    router = router_process(free_env, tmp_path / "data").start().wait_serving()
    port = free_port()
    name = f"modelport-inference-test-{port}"
    try:
        start(
            name,
            image,
            "embedding",
            port,
            "--read-only",
            "--read-only-tmpfs=false",
            "--tmpfs",
            "/cache:rw,size=1g,mode=1777",
            "--tmpfs",
            "/tmp:rw,size=256m,mode=1777",
            ROUTER_ADDRESS=router.address,
            TORCH_THREADS="2",
        )
        try:
            wait_replicas(router, 1, name="all-MiniLM-L6-v2", timeout_s=600)
        except grpc.RpcError:
            pytest.fail(f"no READY replica registered\n{sh('podman', 'logs', name)[-3000:]}")
        with grpc.insecure_channel(router.address) as channel:
            response = embedding_pb2_grpc.EmbeddingServiceStub(channel).Embed(
                embedding_pb2.EmbedRequest(
                    model=common_pb2.ModelRef(name="all-MiniLM-L6-v2"), inputs=SENTENCES
                ),
                timeout=60,
            )
        vectors = [list(e.values) for e in response.embeddings]
        assert [len(v) for v in vectors] == [384, 384, 384]
        assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
        assert sh("podman", "exec", name, "id", "-u").strip() == "10001"
        write = subprocess.run(
            ["podman", "exec", name, "touch", "/app/written"], capture_output=True, text=True
        )
        assert write.returncode != 0
        assert "Read-only file system" in write.stderr, write.stderr
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True)
        stop_all(router)


def test_cpu_inference_image_has_no_cuda_library_and_stays_small() -> None:
    image = prepared.inference_image()
    size = int(sh("podman", "image", "inspect", "--format", "{{.Size}}", image))
    assert size < MAX_INFERENCE_IMAGE_BYTES, f"{size / 1e9:.2f} GB"
    names = " -o ".join(f"-name '{pattern}'" for pattern in CUDA_LIBRARIES)
    found = sh(
        "podman",
        "run",
        "--rm",
        "--runtime",
        "runc",
        *LIMITS,
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        f"find / -xdev \\( {names} \\) -print; echo ==; pip list --format freeze; echo ==; "
        "python -c 'import torch; print(torch.__version__, torch.version.cuda)'",
        timeout=300,
    )
    libraries, packages, torch = found.split("==\n")
    assert libraries.strip() == "", libraries
    cuda = [p for p in packages.splitlines() if re.match(r"(nvidia-|triton|cuda-)", p.lower())]
    assert cuda == []
    assert "torch==2.13.0+cpu" in packages.splitlines()
    assert "rapidocr==3.10.0" in packages.splitlines()
    assert torch.split() == ["2.13.0+cpu", "None"]
