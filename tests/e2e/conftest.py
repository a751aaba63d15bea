"""The local suite (`modelport up`) for end-to-end tests, on free ports."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import prepared
from tests.helpers import free_port_run

ROOT = Path(__file__).resolve().parents[2]


def start_suite(
    env: dict[str, str], data_dir: Path, gateway_port: int | None = None
) -> tuple[subprocess.Popen[str], int, list[str]]:
    """Start `modelport up`; return it, its router port and what it printed until ready.
    The gateway listens on `gateway_port` (a free port when None, never 8080: suites of
    parallel runs must not collide)."""
    port, metrics_port = free_port_run(4), free_port_run(5)
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport.cli",
            "up",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--data-dir",
            str(data_dir),
            "--gateway-port",
            str(gateway_port if gateway_port is not None else free_port_run(1)),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert up.stdout is not None
    lines = []
    for line in up.stdout:
        lines.append(line)
        if line.startswith("ready:"):
            return up, port, lines
    up.wait(30)
    raise AssertionError(f"the suite did not start:\n{''.join(lines)}")


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of the router of a running local suite."""
    import os

    prepared.gemma()  # else `modelport up` would convert it inside the test's timeout
    prepared.smollm2()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    up, port, _ = start_suite(env, tmp_path_factory.mktemp("suite-data"))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(60)
