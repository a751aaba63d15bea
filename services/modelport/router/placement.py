"""Where models are loaded: on demand when a call finds no replica holding its model, and
on one more replica when a model gets hot.

A call for a model no replica has loaded (every replica lists it NOT_LOADED or EVICTED)
is a cache miss: the router asks the replica with the most free memory budget to load it
(`RepositoryModelLoad`, with the router's own credential like every router→backend call;
where it would have to evict, the one whose least recently used model is idle longest),
the next one if that one has no room (RESOURCE_EXHAUSTED) or fails, and the call waits
for the load within its deadline; when the load cannot finish in time the call gets
UNAVAILABLE with RetryInfo (the load goes on, so the retry finds the model). Concurrent
calls for one model share one load. The backend bounds its own loads (one at a time, a
short queue), so a replica with a full queue refuses and the next is asked.

A model whose READY replicas each have `hot_outstanding` calls or more in flight from
this router is loaded on one more replica that lists it in its catalogue, in the
background; the copy is evicted first when it goes cold, as any least recently used
model is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

import grpc

from modelport.oip.v2 import open_inference_pb2 as pb
from modelport.oip.v2 import open_inference_pb2_grpc as pb_grpc
from modelport.router.metrics import RouterMetrics
from modelport.router.pool import ReplicaPool
from modelport.router.registry import Registration, Registry
from modelport.serving.errors import ModelNotReady, ModelportError
from modelport.v1 import common_pb2, registry_pb2, registry_pb2_grpc

log = logging.getLogger(__name__)

ANSWER_MARGIN_S = 0.2
"""A call that waits for a load gives up this much (at most a quarter of its time left)
before its deadline, so its UNAVAILABLE with RetryInfo reaches the caller in time."""
BUSY_RETRY_S = 0.05
"""First wait before asking again when every replica was too busy to load (doubles)."""
MAX_BUSY_RETRY_S = 1.0
ROOM_TIMEOUT_S = 2.0
"""How long the router waits for a replica to say how much of its budget is free."""


class Placement:
    """Loads models where calls need them (see the module docstring)."""

    def __init__(
        self,
        registry: Registry,
        pool: ReplicaPool,
        metrics: RouterMetrics,
        *,
        load_timeout_s: float,
        hot_outstanding: int,
    ) -> None:
        self._registry = registry
        self._pool = pool
        self._metrics = metrics
        self._load_timeout_s = load_timeout_s
        self._hot_outstanding = hot_outstanding
        self._loads: dict[tuple[str, str], asyncio.Task[None]] = {}
        """Loads under way by (model, version asked for): calls for it share the load."""

    # -- cache misses --------------------------------------------------------------------
    def can_load(self, name: str, version: str) -> bool:
        """Whether a call for the model may wait for a load: one is under way here, or a
        replica lists the model without having it loaded."""
        return (name, version) in self._loads or bool(self._registry.loadable(name, version))

    async def load_for_call(self, name: str, version: str, remaining_s: float | None) -> None:
        """Return once a replica has loaded the model (the caller routes to it then).
        UNAVAILABLE with RetryInfo when it does not within `remaining_s`; the error of the
        load when no replica could load it."""
        self._metrics.cache_misses.labels(name).inc()
        started = time.perf_counter()
        key = (name, version)
        task = self._loads.get(key) or self._start(key, set())
        if remaining_s is not None:  # answer before the caller's deadline does
            remaining_s -= min(ANSWER_MARGIN_S, remaining_s / 4)
        try:
            async with asyncio.timeout(remaining_s):
                await asyncio.shield(task)
        except TimeoutError:
            raise ModelNotReady(
                f"model {name!r} is loading on a replica and did not finish within the "
                "call's deadline; retry",
                retry_after_s=ModelNotReady.LOADING_RETRY_S,
            ) from None
        self._metrics.cache_miss_duration.labels(name).observe(time.perf_counter() - started)

    async def _load(self, name: str, version: str, exclude: set[str]) -> None:
        """Ask the replicas that list the model without having it, most free budget first,
        to load it, until one does; while every one refuses for want of room or of a
        loading slot (RESOURCE_EXHAUSTED), ask again after a backoff, within
        `load_timeout_s`."""
        deadline = time.monotonic() + self._load_timeout_s
        delay = BUSY_RETRY_S
        while True:
            errors = await self._load_once(name, version, exclude)
            if errors is None:
                return
            busy = all(code is grpc.StatusCode.RESOURCE_EXHAUSTED for code, _ in errors)
            if not busy or time.monotonic() + delay > deadline:
                raise ModelportError(
                    f"no replica could load model {name!r}: "
                    + "; ".join(message for _, message in errors),
                    code=grpc.StatusCode.UNAVAILABLE,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BUSY_RETRY_S)

    async def _load_once(
        self, name: str, version: str, exclude: set[str]
    ) -> list[tuple[grpc.StatusCode, str]] | None:
        """One round of `_load`: None when a replica loaded the model, else each
        replica's error (status, message)."""
        candidates = [
            r for r in self._registry.loadable(name, version) if r.endpoint not in exclude
        ]
        if not candidates:
            raise ModelNotReady(
                f"model {name!r} has no replica that can load it",
                retry_after_s=ModelNotReady.LOADING_RETRY_S,
            )
        errors: list[tuple[grpc.StatusCode, str]] = []
        for registration in await self._by_free_room(candidates):
            endpoint = registration.endpoint
            started = time.perf_counter()
            try:
                await self._stub(endpoint).RepositoryModelLoad(
                    pb.RepositoryModelLoadRequest(model_name=name),
                    timeout=self._load_timeout_s,
                    metadata=self._pool.call_metadata,
                )
            except grpc.aio.AioRpcError as error:
                self._metrics.model_loads.labels(name, error.code().name).inc()
                log.info("%s could not load %s: %s", endpoint, name, error.details())
                errors.append((error.code(), f"{endpoint}: {error.code().name} {error.details()}"))
                continue
            self._metrics.model_loads.labels(name, "OK").inc()
            self._metrics.load_duration.labels(name).observe(time.perf_counter() - started)
            log.info("loaded %s on %s on demand", name, endpoint)
            return None
        return errors

    async def _by_free_room(self, candidates: list[Registration]) -> list[Registration]:
        """`candidates`, the best place first: replicas where the model fits without an
        eviction, the most free budget first (no budget counts as unbounded); then those
        that must evict, the one whose least recently used model has been idle longest
        first (its eviction costs the least, as ModelMesh places by LRU age); replicas that
        do not answer last."""
        rooms = await asyncio.gather(*(self._room(r) for r in candidates))
        ranked = sorted(zip(rooms, candidates, strict=True), key=lambda pair: pair[0], reverse=True)
        return [r for _, r in ranked]

    async def _room(self, registration: Registration) -> tuple[int, float]:
        """(2, free bytes) when the model fits now, (1, idle seconds of the replica's least
        recently used evictable model) when it does not, (0, 0) when the replica does not
        say."""
        stub = registry_pb2_grpc.RegistryServiceStub(self._pool.get(registration.endpoint).channel)
        try:
            listed = await stub.ListModels(
                registry_pb2.ListModelsRequest(),
                timeout=ROOM_TIMEOUT_S,
                metadata=self._pool.call_metadata,
            )
        except grpc.aio.AioRpcError:
            return (0, 0.0)
        replicas = [
            (info.name, replica)
            for info in listed.models
            for version in info.versions
            for replica in version.replicas
        ]
        mine = [r for name, r in replicas if name == registration.name]
        if not mine:
            return (0, 0.0)
        capacity, used = mine[0].capacity_bytes, mine[0].used_bytes
        if not capacity:
            return (2, math.inf)
        need = registration.size_bytes or mine[0].size_bytes
        if used + need <= capacity:
            return (2, float(capacity - used))
        now = time.time()
        idle = [
            now - r.last_used.ToNanoseconds() / 1e9
            for _, r in replicas
            if r.state == common_pb2.MODEL_STATE_READY and not r.pinned and r.HasField("last_used")
        ]
        return (1, max(idle, default=0.0))

    def _stub(self, endpoint: str) -> Any:
        return pb_grpc.GRPCInferenceServiceStub(self._pool.get(endpoint).channel)

    # -- hot models ----------------------------------------------------------------------
    def routed(self, name: str, version: str, ready: list[Registration], chosen: str) -> None:
        """A call for `name` goes to `chosen`, one of `ready`: note the use, and load the
        model on one more replica if every READY one is at `hot_outstanding` calls or
        more."""
        for registration in ready:
            if registration.endpoint == chosen:
                registration.last_used = time.time()
        if not self._hot_outstanding or (name, version) in self._loads:
            return
        busy = [self._pool.known(r.endpoint) for r in ready]
        if not all(b is not None and b.outstanding >= self._hot_outstanding for b in busy):
            return
        if not self._registry.loadable(name, version):
            return
        log.info("model %s is hot on %d replicas: loading it on one more", name, len(ready))
        self._metrics.spreads.labels(name).inc()
        self._start((name, version), {r.endpoint for r in ready})

    def _start(self, key: tuple[str, str], exclude: set[str]) -> asyncio.Task[None]:
        """Start loading `key` on a replica not in `exclude`; calls for it share the load."""
        task = self._loads[key] = asyncio.create_task(self._load(*key, exclude))
        task.add_done_callback(lambda _: self._loads.pop(key, None))
        task.add_done_callback(_log_failure)
        return task

    async def close(self) -> None:
        tasks = list(self._loads.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


def _log_failure(task: asyncio.Task[None]) -> None:
    """Retrieve a load's failure (a caller that gave up waiting does not), so it is logged
    once, not as an exception nobody retrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.info("a load on demand failed: %s", task.exception())
