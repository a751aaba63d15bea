"""The router image has no torch: importing the router must not pull it in."""

from __future__ import annotations

import subprocess
import sys


def test_router_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "import modelport.router.__main__, modelport.router.proxy, modelport.cli\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
