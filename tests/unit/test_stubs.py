"""The committed stubs are exactly what `make protos` generates from protos/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_stubs_match_protos(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_stubs.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated, "the generator produced nothing"
    stale = [
        str(rel)
        for rel in generated
        if not (ROOT / "services" / rel).exists()
        or (ROOT / "services" / rel).read_bytes() != (tmp_path / rel).read_bytes()
    ]
    assert not stale, f"stubs drifted from protos/, run `make protos`: {stale}"
    committed = {
        p.relative_to(ROOT / "services")
        for pattern in ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py", "*_pb2_grpc.pyi")
        for p in (ROOT / "services" / "modelport").rglob(pattern)
    }
    orphans = sorted(str(p) for p in committed - set(generated))
    assert not orphans, f"stubs without a proto: {orphans}"


def test_every_rpc_message_and_field_is_documented() -> None:
    undocumented = []
    for proto in sorted((ROOT / "protos").rglob("*.proto")):
        lines = proto.read_text().splitlines()
        for i, line in enumerate(lines):
            stripped = line.strip()
            starts_decl = stripped.startswith(("message ", "rpc ", "service ", "enum "))
            is_field = (
                "=" in stripped
                and stripped.endswith(";")
                and not stripped.startswith(("option", "syntax", "//"))
            )
            if (starts_decl or is_field) and not lines[i - 1].strip().startswith("///"):
                undocumented.append(f"{proto.name}:{i + 1}: {stripped}")
    assert not undocumented, "\n".join(undocumented)
