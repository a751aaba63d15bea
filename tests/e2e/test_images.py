"""The router image, run for real: `make images` builds it (scripts/router-image.sh:
buildah, chroot isolation, on a Debian base made by debootstrap) before pytest starts;
the test runs it with podman and runc, and the container answers its gRPC health check.
The image is labelled with a digest of its sources, so the test never runs a stale one."""

from __future__ import annotations

import subprocess

import pytest

from modelport.suite import wait_serving
from tests import prepared
from tests.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def sh(*args: str, timeout: float = 120) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(args)}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_router_image_runs_as_non_root_and_serves_health() -> None:
    image = prepared.router_image()
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
        image,
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
