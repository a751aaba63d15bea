"""Self-registration of a backend's models with the router, kept alive by leases.

A model is registered as soon as it starts loading (LOADING: the router lists it and
answers its calls UNAVAILABLE "loading; retry" instead of NOT_FOUND), again when it is
READY, and as FAILED with its reason if its load fails (listed, never routed to); every
third of the shortest lease the router granted (it may grant less than asked) all leases
are renewed in one call; leases the router does not know (it restarted, or a lease
lapsed) are registered again; on shutdown every model is deregistered before draining,
so the router stops sending first. If the router is down, the next tick tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import grpc

from modelport.inference.repository import ManagedModel, ModelRepository
from modelport.serving.catalog import STATE_TO_PROTO, TASK_TO_PROTO, ModelState
from modelport.v1 import common_pb2, registry_pb2, registry_pb2_grpc

log = logging.getLogger(__name__)

RPC_TIMEOUT_S = 5.0
REPORTED = (
    ModelState.LOADING,
    ModelState.READY,
    ModelState.FAILED,
    ModelState.NOT_LOADED,
    ModelState.EVICTED,
)
"""States a backend tells the router about; it deregisters a model in any other state."""


class RouterRegistrar:
    def __init__(
        self,
        router_address: str,
        endpoint: str,
        repository: ModelRepository,
        ttl_s: float,
        *,
        token: str | None = None,
        tls_ca_file: Path | None = None,
        tls_cert_file: Path | None = None,
        tls_key_file: Path | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._repository = repository
        self._ttl_s = ttl_s
        if tls_ca_file is not None:
            credentials = grpc.ssl_channel_credentials(
                tls_ca_file.read_bytes(),
                private_key=tls_key_file.read_bytes() if tls_key_file else None,
                certificate_chain=tls_cert_file.read_bytes() if tls_cert_file else None,
            )
            if token:
                credentials = grpc.composite_channel_credentials(
                    credentials, grpc.access_token_call_credentials(token)
                )
            self._channel = grpc.aio.secure_channel(router_address, credentials)
            self._metadata: tuple[tuple[str, str], ...] = ()
        else:
            if token:
                log.warning(
                    "registering with %s in plaintext: the router token travels unencrypted "
                    "(set MODELPORT_ROUTER_TLS_CA_FILE)",
                    router_address,
                )
            self._channel = grpc.aio.insecure_channel(router_address)
            self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._stub = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self._leases: dict[tuple[str, str], str] = {}
        self._granted_s: dict[tuple[str, str], float] = {}
        """Lease length the router granted each registration."""
        self._granted: asyncio.Event | None = None
        """Set on each grant: the renewer recomputes its period (a grant may be shorter)."""
        self._renewer: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        self._granted = asyncio.Event()
        self._renewer = asyncio.create_task(self._renew_forever(), name="lease-renewer")

    async def on_model_change(self, managed: ManagedModel) -> None:
        if self._closed:
            return
        if managed.state in REPORTED:
            await self._register(managed)
        elif (managed.name, managed.version) in self._leases:
            await self._deregister(managed.name, managed.version)

    async def _register(self, managed: ManagedModel) -> None:
        request = registry_pb2.RegisterModelRequest(
            model=common_pb2.ModelRef(name=managed.name, version=managed.version),
            task=TASK_TO_PROTO[managed.model.task],
            endpoint=self.endpoint,
            state=STATE_TO_PROTO[managed.state],
            reason=managed.reason,
            metadata=(
                managed.model.metadata().properties if managed.state is ModelState.READY else {}
            ),
            size_bytes=managed.size_bytes,
            pinned=managed.pinned,
        )
        request.lease_ttl.FromNanoseconds(int(self._ttl_s * 1e9))
        try:
            response = await self._stub.RegisterModel(
                request, timeout=RPC_TIMEOUT_S, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as exc:
            log.warning("cannot register %s with the router yet: %s", managed.name, exc.code())
            self._leases.pop((managed.name, managed.version), None)
            self._granted_s.pop((managed.name, managed.version), None)
            return
        key = (managed.name, managed.version)
        self._leases[key] = response.lease_id
        granted_s = response.lease_ttl.ToNanoseconds() / 1e9
        self._granted_s[key] = granted_s if granted_s > 0 else self._ttl_s
        if self._granted is not None:
            self._granted.set()
        log.info(
            "registered %s v%s at %s with the router", managed.name, managed.version, self.endpoint
        )

    async def _deregister(self, name: str, version: str) -> None:
        self._leases.pop((name, version), None)
        self._granted_s.pop((name, version), None)
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self._stub.DeregisterModel(
                registry_pb2.DeregisterModelRequest(
                    model=common_pb2.ModelRef(name=name, version=version), endpoint=self.endpoint
                ),
                timeout=RPC_TIMEOUT_S,
                metadata=self._metadata,
            )

    async def _tick(self) -> None:
        reported = {
            (m.name, m.version): m for m in self._repository.models() if m.state in REPORTED
        }
        lease_ids = [self._leases[k] for k in reported if k in self._leases]
        unknown: set[str] = set()
        if lease_ids:
            try:
                response = await self._stub.RenewLease(
                    registry_pb2.RenewLeaseRequest(lease_ids=lease_ids),
                    timeout=RPC_TIMEOUT_S,
                    metadata=self._metadata,
                )
                unknown = set(response.unknown_lease_ids)
            except grpc.aio.AioRpcError as exc:
                log.warning("lease renewal failed: %s", exc.code())
                return
        for key, managed in reported.items():
            if key not in self._leases or self._leases[key] in unknown:
                await self._register(managed)

    def _period_s(self) -> float:
        """A third of the shortest lease granted (of the lease asked for until one is)."""
        held = [self._granted_s[k] for k in self._leases if k in self._granted_s]
        return min(held, default=self._ttl_s) / 3

    async def _renew_forever(self) -> None:
        assert self._granted is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._tick()
            renewed_at = loop.time()
            while (wait_s := renewed_at + self._period_s() - loop.time()) > 0:
                self._granted.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait_s):  # wait_for may swallow a cancel (3.11)
                        await self._granted.wait()

    async def deregister_all(self) -> None:
        """Called when draining starts: the router stops sending before the port closes."""
        self._closed = True
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        for name, version in list(self._leases):
            await self._deregister(name, version)

    async def close(self) -> None:
        await self.deregister_all()
        await self._channel.close(None)
