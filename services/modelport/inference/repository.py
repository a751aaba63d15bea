"""The models a process serves, with their lifecycle: LOADING → READY / FAILED → UNLOADING."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from opentelemetry import trace

from modelport.inference.batching import DynamicBatcher
from modelport.inference.decoding import DecodeLoop
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.model import Model
from modelport.inference.scheduling import Scheduler
from modelport.inference.settings import ModelSpec, Runtimes, ServerSettings, with_default_device
from modelport.inference.stats import ModelStats
from modelport.serving.calls import routed_version
from modelport.serving.catalog import ModelState, version_key
from modelport.serving.errors import FailedPrecondition, InvalidArgument, ModelNotReady, NotFound

log = logging.getLogger(__name__)


Listener = Callable[["ManagedModel"], Awaitable[None]]


def model_class(reference: str) -> type[Model[Any, Any]]:
    """The model class a runtime names as `module:Class`."""
    module, _, name = reference.partition(":")
    found = getattr(importlib.import_module(module), name)
    if not (isinstance(found, type) and issubclass(found, Model)):
        raise TypeError(f"{reference} is not a Model class")
    return found


@dataclass(eq=False)
class ManagedModel:
    """A model with its scheduler and state."""

    spec: ModelSpec
    model: Model[Any, Any]
    scheduler: Scheduler[Any] | None = None
    """What runs the model (built once it has loaded; None before and after a failure)."""
    state: ModelState = ModelState.LOADING
    reason: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def batcher(self) -> DynamicBatcher[Any, Any]:
        """The scheduler of a loaded batched model."""
        if not isinstance(self.scheduler, DynamicBatcher):
            raise TypeError(f"model {self.name!r} is not run by a dynamic batcher")
        return self.scheduler

    @property
    def decoder(self) -> DecodeLoop:
        """The scheduler of a loaded generative model."""
        if not isinstance(self.scheduler, DecodeLoop):
            raise TypeError(f"model {self.name!r} is not run by a decoding loop")
        return self.scheduler

    @property
    def queue_depth(self) -> int:
        """Work waiting for the model (0 when it is not loaded)."""
        return self.scheduler.queue_depth if self.scheduler is not None else 0

    @property
    def stats(self) -> ModelStats:
        return self.scheduler.stats if self.scheduler is not None else ModelStats()


class ModelRepository:
    """Loads the configured models concurrently and hands out READY ones by name/version."""

    def __init__(
        self,
        runtimes: Runtimes,
        metrics: InferenceMetrics,
        *,
        cache_dir: Path,
        warmup: bool = True,
        default_device: Literal["auto", "cpu", "cuda"] = "auto",
    ) -> None:
        self._runtimes = runtimes
        self._default_device: Literal["auto", "cpu", "cuda"] = default_device
        self._classes = {r.name: model_class(r.model) for r in runtimes}
        self._cache_dir = cache_dir
        self._metrics = metrics
        self._warmup = warmup
        self._models: dict[tuple[str, str], ManagedModel] = {}
        self._specs: dict[tuple[str, str], ModelSpec] = {}
        """Every spec ever loaded, so an unloaded model can be loaded again by name."""
        self._listeners: list[Listener] = []
        self.tracer: trace.Tracer | None = None
        """Set by the server and handed to each model's scheduler (the batcher records
        queue and compute spans with it)."""

    @classmethod
    def of(cls, settings: ServerSettings, metrics: InferenceMetrics) -> ModelRepository:
        """The repository of a process configured by `settings` (its runtimes, cache,
        warm-up and default device)."""
        return cls(
            settings.runtimes,
            metrics,
            cache_dir=settings.cache_dir,
            warmup=settings.warmup,
            default_device=settings.default_device,
        )

    def add_listener(self, listener: Listener) -> None:
        """Await `listener(model)` on every state change."""
        self._listeners.append(listener)

    def models(self) -> list[ManagedModel]:
        return sorted(self._models.values(), key=lambda m: (m.name, version_key(m.version)))

    async def _set_state(self, managed: ManagedModel, state: ModelState, reason: str = "") -> None:
        managed.state, managed.reason = state, reason
        for s in ModelState:
            self._metrics.model_state.labels(managed.name, managed.version, s.value).set(
                1 if s is state else 0
            )
        for listener in self._listeners:
            await listener(managed)

    async def load_all(self, specs: Iterable[ModelSpec]) -> None:
        """Load every spec concurrently; a failure marks that model FAILED, others go on."""
        await asyncio.gather(*(self.load(spec) for spec in specs))

    async def load(self, spec: ModelSpec) -> ManagedModel:
        """Load one model; a spec its runtime cannot take (unknown runtime, bad options) is a
        `ConfigError`, any failure while loading marks the model FAILED with the reason."""
        spec = with_default_device(self._runtimes.spec(spec), self._default_device)
        key = (spec.name, spec.version)
        if key in self._models:
            raise InvalidArgument("model", f"{spec.name!r} version {spec.version!r} is loaded")
        self._specs[key] = spec
        model = self._classes[spec.runtime](spec, self._cache_dir)
        managed = ManagedModel(spec, model)
        self._models[key] = managed
        await self._set_state(managed, ModelState.LOADING)
        try:
            await model.load()
            managed.scheduler = model.scheduler(self._metrics, self.tracer)
            managed.scheduler.start()
            if self._warmup:
                await managed.scheduler.warm_up(model.warmup_batch())
        except Exception as exc:
            log.exception("model %s version %s failed to load", spec.name, spec.version)
            await self._close_scheduler(managed)
            await self._set_state(managed, ModelState.FAILED, f"{type(exc).__name__}: {exc}")
            return managed
        log.info("model %s version %s is READY", spec.name, spec.version)
        await self._set_state(managed, ModelState.READY)
        return managed

    async def _close_scheduler(self, managed: ManagedModel) -> None:
        if managed.scheduler is not None:
            await managed.scheduler.close()
            managed.scheduler = None

    async def unload(self, name: str, version: str) -> None:
        managed = self._models.get((name, version))
        if managed is None:
            raise NotFound(f"model {name!r} version {version!r} is not loaded")
        await self._set_state(managed, ModelState.UNLOADING)
        await self._close_scheduler(managed)
        await managed.model.unload()
        del self._models[(name, version)]

    def get(self, name: str, version: str = "") -> ManagedModel:
        """The READY model; empty version means the version the call was routed to (by
        Envoy, `serving.calls.routed_version`), else the newest READY version."""
        if not name:
            raise InvalidArgument("model.name", "is required")
        if not version:
            routed_model, routed = routed_version.get()
            version = routed if routed_model == name else ""
        versions = [m for (n, _), m in self._models.items() if n == name]
        if not versions:
            served = ", ".join(sorted({n for n, _ in self._models})) or "none"
            raise NotFound(f"model {name!r} is not served here; this server serves: {served}")
        if version:
            match = [m for m in versions if m.version == version]
            if not match:
                known = ", ".join(repr(m.version) for m in versions)
                raise NotFound(f"model {name!r} has no version {version!r}; it has {known}")
            managed = match[0]
        else:
            ready = [m for m in versions if m.state is ModelState.READY]
            if not ready:
                if any(m.state is ModelState.LOADING for m in versions):
                    raise ModelNotReady.loading(f"model {name!r}")
                why = ""
                for m in versions:
                    if m.state is ModelState.FAILED:
                        why = f": version {m.version!r} FAILED: {m.reason}"
                raise ModelNotReady(f"model {name!r} has no READY version{why}")
            managed = (
                ready[0] if len(ready) == 1 else max(ready, key=lambda m: version_key(m.version))
            )
        if managed.state is ModelState.LOADING:
            raise ModelNotReady.loading(f"model {name!r} version {managed.version!r}")
        if managed.state is not ModelState.READY:
            raise ModelNotReady(
                f"model {name!r} version {managed.version!r} is {managed.state.value}"
                + (f": {managed.reason}" if managed.reason else "")
            )
        return managed

    def unloaded(self) -> list[ModelSpec]:
        """Specs known to this process whose model is not loaded now."""
        return [s for key, s in sorted(self._specs.items()) if key not in self._models]

    async def load_by_name(self, name: str) -> list[ManagedModel]:
        """Load every known version of `name` that is not loaded (Triton's load); a version
        that FAILED to load is tried again."""
        specs = [s for (n, _), s in sorted(self._specs.items()) if n == name]
        if not specs:
            raise NotFound(f"model {name!r} is not in this server's repository")
        for spec in specs:
            managed = self._models.get((spec.name, spec.version))
            if managed is not None and managed.state is ModelState.FAILED:
                await self.unload(spec.name, spec.version)
        loaded = [await self.load(s) for s in specs if (s.name, s.version) not in self._models]
        failed = [m for m in loaded if m.state is ModelState.FAILED]
        if failed:
            raise FailedPrecondition(f"model {name!r} failed to load: {failed[0].reason}")
        return loaded

    async def unload_by_name(self, name: str) -> None:
        """Unload every loaded version of `name`; it stays known for a later load."""
        if not any(n == name for n, _ in self._specs):
            raise NotFound(f"model {name!r} is not in this server's repository")
        for key in [k for k in self._models if k[0] == name]:
            await self.unload(*key)

    async def close(self) -> None:
        for managed in list(self._models.values()):
            await self.unload(managed.name, managed.version)
