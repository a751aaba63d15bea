"""Regenerate the Python stubs from protos/ (the one command: `make protos`).

Writes `*_pb2.py`, `*_pb2.pyi` (mypy-protobuf), `*_pb2_grpc.py` and `*_pb2_grpc.pyi`
next to the package they belong to under `services/` (or under --out). The drift test
runs this into a temporary folder and compares the result with what is committed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    for plugin in ("protoc-gen-mypy", "protoc-gen-mypy_grpc"):
        if shutil.which(plugin, path=bin_dir) is None:
            raise SystemExit(f"{plugin} not found next to {sys.executable}: install the dev extras")
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    well_known = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *proto_files(),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "services")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
