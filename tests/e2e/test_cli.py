"""`modelport up` then `modelport embed`: the README's promise, through the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import prepared
from tests.helpers import free_port

MODELPORT = [sys.executable, "-m", "modelport.cli"]


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.e2e
def test_up_then_embed_then_clean_stop(free_env: dict[str, str], tmp_path: Path) -> None:
    from PIL import Image
    from skimage import data as photos

    prepared.gemma()  # else `modelport up` would convert it inside the test's timeout
    cat = tmp_path / "cat.jpg"
    Image.fromarray(photos.chelsea()).save(cat)  # type: ignore[no-untyped-call]
    port, metrics_port = free_port(), free_port()
    up = subprocess.Popen(
        [*MODELPORT, "up", "--port", str(port), "--metrics-port", str(metrics_port)],
        env=free_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stdout is not None
        lines = []
        for line in up.stdout:
            lines.append(line)
            if line.startswith("ready:"):
                break
        for model in ("all-MiniLM-L6-v2", "sentiment", "gemma-3-270m", "efficientnet-lite0"):
            assert any(model in line and "READY" in line for line in lines), lines
        out = subprocess.run(
            [*MODELPORT, "embed", "--target", f"127.0.0.1:{port}", "--json", "hello", "world"],
            env=free_env,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout)
        assert result["model"] == "all-MiniLM-L6-v2"
        assert [len(v) for v in result["embeddings"]] == [384, 384]
        classified = subprocess.run(
            [
                *MODELPORT,
                "classify",
                "--target",
                f"127.0.0.1:{port}",
                "--json",
                "I love this",
                "This is terrible",
            ],
            env=free_env,
            capture_output=True,
            text=True,
            check=True,
        )
        labels = json.loads(classified.stdout)
        assert labels["I love this"][0]["label"] == "positive"
        assert labels["This is terrible"][0]["label"] == "negative"
        assert labels["I love this"][0]["score"] > 0.5
        generated = subprocess.run(
            [
                *MODELPORT,
                "generate",
                "--target",
                f"127.0.0.1:{port}",
                "--max-new-tokens",
                "12",
                "Once upon a time",
            ],
            env=free_env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert generated.stdout.startswith("Once upon a time")
        assert len(generated.stdout.strip()) > len("Once upon a time") + 5
        labelled = subprocess.run(
            [*MODELPORT, "classify-image", "--target", f"127.0.0.1:{port}", "--json", str(cat)],
            env=free_env,
            capture_output=True,
            text=True,
            check=True,
        )
        cat_labels = [r["label"] for r in json.loads(labelled.stdout)[str(cat)]]
        assert any("cat" in label or "tabby" in label for label in cat_labels), cat_labels
        missing = subprocess.run(
            [*MODELPORT, "embed", "--target", f"127.0.0.1:{port}", "--model", "nope", "x"],
            env=free_env,
            capture_output=True,
            text=True,
        )
        assert missing.returncode == 2
        assert "NOT_FOUND" in missing.stderr
        children = children_of(up.pid)
        assert children, "the suite runs its services as child processes"
        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0
        deadline = time.monotonic() + 10
        while any(alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(c) for c in children), "orphaned service processes"
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
