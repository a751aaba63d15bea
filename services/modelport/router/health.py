"""Per-model health on the router, as on a backend: `model/<name>` in `grpc.health.v1` is
SERVING while the registry has a READY replica of the model, NOT_SERVING once it has none
(a name never registered is NOT_FOUND). Follows the registry's change events."""

from __future__ import annotations

import asyncio
import contextlib

from grpc_health.v1._async import HealthServicer

from modelport.router.registry import Registry, ReplicaState
from modelport.serving.errors import ResourceExhausted
from modelport.serving.server import NOT_SERVING, SERVING, health_name


class ModelHealth:
    def __init__(self, registry: Registry, health: HealthServicer) -> None:
        self._registry = registry
        self._health = health
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Follow the registry; call inside the running loop, after the registry started."""
        self._task = asyncio.create_task(self._follow(), name="model-health")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _set(self, name: str) -> None:
        ready = any(
            r.state is ReplicaState.READY
            for view in self._registry.versions(name)
            for r in view.replicas
        )
        await self._health.set(health_name(name), SERVING if ready else NOT_SERVING)

    async def _follow(self) -> None:
        while True:  # once per subscription: a watch that fell behind is replaced
            watch = self._registry.watch()
            try:
                for name in self._registry.names():
                    await self._set(name)
                while True:
                    await self._set(await watch.get())
            except ResourceExhausted:
                continue  # missed changes: subscribe again, starting from the current state
            finally:
                self._registry.unwatch(watch)
