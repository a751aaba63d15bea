"""Connections to replicas and the balancing decision.

One long-lived channel per replica endpoint (shared by every model it serves). Picks are
least-outstanding with power of two choices. Passive health: consecutive transport
failures eject a replica; a background health check re-admits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from modelport.router.metrics import RouterMetrics
from modelport.router.registry import Registration
from modelport.serving.endpoints import dial_target
from modelport.serving.server import grpc_options
from modelport.serving.settings import CommonSettings

log = logging.getLogger(__name__)

MAX_PROBE_INTERVAL_S = 5.0


class Replica:
    """A backend endpoint: its channel, calls in flight and passive-health state."""

    def __init__(self, endpoint: str, channel: grpc.aio.Channel) -> None:
        self.endpoint = endpoint
        self.channel = channel
        self.outstanding = 0
        self.failures = 0
        self.ejected = False
        self.probe: asyncio.Task[None] | None = None
        self._callables: dict[tuple[str, str], Any] = {}

    def callable(self, kind: str, method: str) -> Any:
        """The channel's raw-bytes multicallable of `kind` for `method`, made once."""
        key = (kind, method)
        found = self._callables.get(key)
        if found is None:
            found = self._callables[key] = getattr(self.channel, kind)(method, None, None)
        return found


class ReplicaPool:
    """Channels by endpoint; chooses a replica for each call."""

    def __init__(
        self,
        settings: CommonSettings,
        metrics: RouterMetrics,
        *,
        eject_after: int,
        connect_timeout_s: float,
        probe_interval_s: float,
        credentials: grpc.ChannelCredentials | None = None,
        server_name: str | None = None,
        token: str | None = None,
    ) -> None:
        self._settings = settings
        self.call_metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        """The router's credential, sent with every call it makes to a replica."""
        self._credentials = credentials
        self._server_name = server_name
        self._metrics = metrics
        self._eject_after = eject_after
        self.connect_timeout_s = connect_timeout_s
        self._probe_interval_s = probe_interval_s
        self._replicas: dict[str, Replica] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, endpoint: str) -> Replica:
        replica = self._replicas.get(endpoint)
        if replica is None:
            options: list[tuple[str, int | str]] = list(grpc_options(self._settings))
            if self._credentials is not None and self._server_name:
                options.append(("grpc.ssl_target_name_override", self._server_name))
            target = dial_target(endpoint)
            channel = (
                grpc.aio.secure_channel(target, self._credentials, options=options)
                if self._credentials is not None
                else grpc.aio.insecure_channel(target, options=options)
            )
            replica = self._replicas[endpoint] = Replica(endpoint, channel)
        return replica

    def known(self, endpoint: str) -> Replica | None:
        return self._replicas.get(endpoint)

    def pick(self, registrations: Sequence[Registration], exclude: set[str]) -> Replica | None:
        """Least outstanding of two random healthy candidates; ejected ones only if no
        healthy replica is left (better a suspect replica than certain failure)."""
        candidates = [self.get(r.endpoint) for r in registrations if r.endpoint not in exclude]
        healthy = [c for c in candidates if not c.ejected] or candidates
        if not healthy:
            return None
        if len(healthy) == 1:
            return healthy[0]
        a, b = random.sample(healthy, 2)
        return a if a.outstanding <= b.outstanding else b

    async def connect(self, replica: Replica, wait_s: float) -> bool:
        """Wait (at most `wait_s`) for the replica's connection; False if it fails."""
        channel = replica.channel
        state = channel.get_state(try_to_connect=True)
        if state is grpc.ChannelConnectivity.READY:
            return True
        try:
            await asyncio.wait_for(channel.channel_ready(), wait_s)
        except TimeoutError:
            return False
        return True

    def succeeded(self, replica: Replica) -> None:
        replica.failures = 0

    def failed(self, replica: Replica) -> None:
        """A transport failure: eject after `eject_after` in a row."""
        replica.failures += 1
        if replica.failures >= self._eject_after and not replica.ejected:
            replica.ejected = True
            self._metrics.ejections.labels(replica.endpoint).inc()
            log.warning(
                "ejected %s after %d consecutive failures", replica.endpoint, replica.failures
            )
            replica.probe = asyncio.create_task(self._probe(replica))

    async def _probe(self, replica: Replica) -> None:
        """Health-check an ejected replica with backoff until it answers SERVING."""
        stub = health_pb2_grpc.HealthStub(replica.channel)
        delay = self._probe_interval_s
        while replica.ejected:
            await asyncio.sleep(delay)
            try:
                response = await stub.Check(
                    health_pb2.HealthCheckRequest(), timeout=1.0, metadata=self.call_metadata
                )
            except grpc.aio.AioRpcError:
                delay = min(delay * 2, MAX_PROBE_INTERVAL_S)
                continue
            if response.status == health_pb2.HealthCheckResponse.SERVING:
                replica.ejected, replica.failures = False, 0
                log.info("re-admitted %s", replica.endpoint)

    async def drop(self, endpoint: str) -> None:
        """Forget an endpoint no registration uses any more. Its channel closes in the
        background once the calls still in flight on it are done (a deregistered backend
        is draining them), or after `grace_period_s`; closing at once would cancel them."""
        replica = self._replicas.pop(endpoint, None)
        if replica is None:
            return
        if replica.probe is not None:
            replica.probe.cancel()
        closing = asyncio.create_task(replica.channel.close(grace=self._settings.grace_period_s))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        for endpoint in list(self._replicas):
            with contextlib.suppress(Exception):
                await self.drop(endpoint)
        await asyncio.gather(*self._closing, return_exceptions=True)
