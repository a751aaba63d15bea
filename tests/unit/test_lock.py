"""The inference image's dependency locks (requirements/inference-{cpu,cuda}.txt, written
by `make lock`) match their inputs: pyproject.toml's base, `inference` and `models`
dependencies and requirements/inference-<variant>.in. Offline: the check recomputes the
inputs' digest each lock records, and reads the pins; it never resolves."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock.py"), "--check", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_the_committed_locks_match_their_inputs() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stderr


def test_every_pin_has_a_hash_and_the_cpu_lock_no_cuda_package() -> None:
    cpu = (ROOT / "requirements" / "inference-cpu.txt").read_text()
    cuda = (ROOT / "requirements" / "inference-cuda.txt").read_text()
    assert "torch==2.13.0+cpu \\" in cpu
    assert "nvidia-" not in cpu
    assert "torch==2.13.0 \\" in cuda
    assert "nvidia-cublas" in cuda  # PyPI's torch is the CUDA build: its libraries locked too
    for text in (cpu, cuda):
        pins = [line for line in text.splitlines() if "==" in line and not line.startswith("#")]
        assert pins
        assert all(line.endswith(" \\") for line in pins)  # a --hash line follows each pin


def test_a_new_dependency_is_drift(tmp_path: Path) -> None:
    root = copy(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"rapidocr==3.10.0",', '"rapidocr==3.10.0", "rich>=99",')
    )
    result = check(root)
    assert result.returncode == 1
    assert "inference-cpu.txt: its inputs changed" in result.stderr
    assert "rich>=99" in result.stderr  # locked at a version that does not meet it


def test_a_cuda_package_in_the_cpu_lock_is_refused(tmp_path: Path) -> None:
    root = copy(tmp_path)
    lock = root / "requirements" / "inference-cpu.txt"
    lock.write_text(lock.read_text() + "nvidia-cublas==13.1.1.3 \\\n    --hash=sha256:" + "0" * 64)
    result = check(root)
    assert result.returncode == 1
    assert "CUDA package nvidia-cublas in a lock without CUDA" in result.stderr
