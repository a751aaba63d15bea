"""Print a digest of what the images are built from (services/ with the Dockerfile,
pyproject.toml, README.md, the dependency locks in requirements/: the files the
Dockerfile's stages copy, less what .dockerignore leaves out).

scripts/router-image.sh and scripts/inference-image.sh label their image with it;
tests/e2e/test_images.py compares the label with the tree, so a test never runs an image
older than the code it tests.
Standard library only: the script runs before any virtualenv exists.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("pyproject.toml", "README.md", "requirements", "services")
IGNORED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


def files(root: Path) -> list[Path]:
    found: list[Path] = []
    for name in INPUTS:
        path = root / name
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in candidates:
            parts = file.relative_to(root).parts
            if not file.is_file() or file.suffix == ".pyc":
                continue
            if any(p in IGNORED_DIRS or p.endswith(".egg-info") for p in parts):
                continue
            found.append(file)
    return found


def digest(root: Path = ROOT) -> str:
    h = hashlib.sha256()
    for file in files(root):
        h.update(file.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(file.read_bytes()).digest())
    return h.hexdigest()[:16]


if __name__ == "__main__":
    sys.stdout.write(digest() + "\n")
