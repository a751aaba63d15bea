"""The router's registry right after a (re)start."""

from __future__ import annotations

import asyncio

import pytest

from modelport.router.registry import Registry
from modelport.serving.errors import ModelNotReady, NotFound


async def test_unknown_model_is_unavailable_for_one_lease_after_start_then_not_found() -> None:
    registry = Registry(lease_ttl_s=0.2, max_lease_ttl_s=1.0)
    registry.start()
    with pytest.raises(ModelNotReady):  # its backends may not have registered again yet
        registry.ready_replicas("m", "")
    await asyncio.sleep(0.3)
    with pytest.raises(NotFound):
        registry.ready_replicas("m", "")
    await registry.close()
