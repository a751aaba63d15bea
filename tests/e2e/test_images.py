"""The router image, built and run for real: buildah (chroot isolation) from a base made
by debootstrap, podman with runc; the container answers its gRPC health check."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelport.suite import wait_serving
from tests.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/modelport-router:test"


def sh(*args: str, timeout: float = 1800) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(args)}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_router_image_builds_runs_as_non_root_and_serves_health() -> None:
    base = sh("bash", str(ROOT / "scripts" / "base-image.sh")).strip().splitlines()[-1]
    sh(
        "buildah",
        "bud",
        "--isolation=chroot",
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--target",
        "router",
        "-f",
        str(ROOT / "services" / "Dockerfile"),
        "-t",
        TAG,
        str(ROOT),
    )
    port = free_port()
    name = f"modelport-router-test-{port}"
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
        "--ulimit",
        "nproc=512:512",
        "--ulimit",
        "nofile=1024:1024",
        "-e",
        "MODELPORT_HOST=127.0.0.1",
        "-e",
        f"MODELPORT_PORT={port}",
        "-e",
        "MODELPORT_METRICS_PORT=-1",
        TAG,
        "serve",
        "router",
    )
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
    finally:
        subprocess.run(["podman", "rm", "-f", name], capture_output=True)
