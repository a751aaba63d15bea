"""`prepare_only` (the chart's prepare Job): a backend loads its models once into the
cache dir, without serving, and exits with a status that says whether every model loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port, models_file

pytestmark = pytest.mark.slow

EXIT_TIMEOUT_S = 300
"""Generous bound on a child that should exit by itself (a guard, not a measurement)."""


def prepare(tmp_path: Path, models: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MODELPORT_PREPARE_ONLY": "true",
        "MODELPORT_WARMUP": "false",
        "MODELPORT_MODELS_FILE": str(models),
        "MODELPORT_CACHE_DIR": str(cache),
        "MODELPORT_HOST": "127.0.0.1",
        "MODELPORT_PORT": str(free_port()),
        "MODELPORT_METRICS_PORT": "-1",
        "MODELPORT_TORCH_THREADS": "1",
        "MODELPORT_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "modelport.embedding"],
        env=env,
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT_S,
        cwd=tmp_path,
    )


def test_prepare_only_fills_the_cache_once_and_exits(tmp_path: Path, tiny_bert_dir: Path) -> None:
    cache = tmp_path / "cache"
    spec: dict[str, object] = {
        "name": "tiny",
        "runtime": "sentence-embedding",
        "path": str(tiny_bert_dir),
        "engine": "onnxruntime",
    }
    done = prepare(tmp_path, models_file(tmp_path / "ok.yaml", spec), cache)
    assert done.returncode == 0, done.stderr[-3000:]
    exports = sorted(cache.glob("onnx/*/model.onnx"))
    assert len(exports) == 1  # made here, ready for every pod that mounts the cache
    made = exports[0].stat().st_mtime_ns

    missing: dict[str, object] = {
        "name": "absent",
        "runtime": "sentence-embedding",
        "path": str(tmp_path / "no"),
    }
    failed = prepare(tmp_path, models_file(tmp_path / "bad.yaml", spec, missing), cache)
    assert failed.returncode == 1
    assert "'absent'" in failed.stderr
    assert "'tiny'" not in failed.stderr  # it loaded
    assert exports[0].stat().st_mtime_ns == made  # found in the cache, not exported again
