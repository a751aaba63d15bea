from __future__ import annotations

from pathlib import Path

import pytest

from tests import prepared


@pytest.fixture(scope="session")
def tools() -> Path:
    """helm, kubernetes-validate, checkov, check-jsonschema (`make tools` installs them)."""
    return prepared.chart_tools()
