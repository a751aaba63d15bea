"""The server of one inference process: a `GrpcServer` plus the model repository, per-model
health (`model/<name>`) and registration with the router."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from modelport.inference.metrics import InferenceMetrics
from modelport.inference.registration import RouterRegistrar
from modelport.inference.repository import SERVABLE, ManagedModel, ModelRepository
from modelport.inference.settings import ModelSpec, ServerSettings
from modelport.serving.catalog import ModelState
from modelport.serving.server import NOT_SERVING, SERVING, GrpcServer, ServiceBinding, health_name

log = logging.getLogger(__name__)


class InferenceServer(GrpcServer):
    """One inference process: a GrpcServer plus the model repository."""

    def __init__(
        self,
        settings: ServerSettings,
        repository: ModelRepository,
        services: Sequence[ServiceBinding],
        metrics: InferenceMetrics,
        *,
        name: str = "modelport-inference",
    ) -> None:
        super().__init__(settings, services, metrics, name=name)
        self.settings: ServerSettings = settings
        self.repository = repository
        repository.add_listener(self._on_model_change)
        repository.tracer = self.tracer
        self.on_stop(repository.close)
        self.registrar: RouterRegistrar | None = None

    async def start(self) -> None:
        await super().start()
        if self.settings.router_address:
            registrar = RouterRegistrar(
                self.settings.router_address,
                self.settings.advertised(self.port),
                self.repository,
                self.settings.lease_ttl_s,
                token=self.settings.router_token,
                tls_ca_file=self.settings.router_tls_ca_file,
                tls_cert_file=self.settings.router_tls_cert_file,
                tls_key_file=self.settings.router_tls_key_file,
            )
            self.repository.add_listener(registrar.on_model_change)
            self.before_drain(self._leave_router)
            self.on_stop(registrar.close)
            registrar.start()
            self.registrar = registrar

    async def _leave_router(self) -> None:
        """Deregister, then keep accepting calls for `deregistration_grace_s`: a call the
        router routed here just before it removed this replica still arrives after the
        deregistration, and must be served, not refused by a closing server."""
        assert self.registrar is not None
        await self.registrar.deregister_all()
        await asyncio.sleep(self.settings.deregistration_grace_s)

    async def load_models(self, specs: Sequence[ModelSpec]) -> None:
        """Load (and warm up) every model concurrently, then report SERVING when one is
        READY (or in the catalogue, to load on demand), unless a model whose spec asks for
        a GPU (`device: cuda`) FAILED: such a process (a GPU pod that cannot use its GPU)
        stays NOT_SERVING, so it is never Ready, and ListModels says why."""
        await self.repository.load_all(specs)
        models = self.repository.models()
        refused = [m for m in models if m.state is ModelState.FAILED and m.spec.device == "cuda"]
        for managed in refused:
            log.error(
                "not SERVING: model %s asks for device: cuda and failed: %s",
                managed.name,
                managed.reason,
            )
        ready = any(m.state in SERVABLE for m in models)
        await self.set_serving(ready and not refused)

    async def _on_model_change(self, managed: ManagedModel) -> None:
        versions = [m for m in self.repository.models() if m.name == managed.name]
        ready = any(m.state is ModelState.READY for m in versions)
        await self.health.set(health_name(managed.name), SERVING if ready else NOT_SERVING)
