"""The router as an xDS control plane: Aggregated Discovery Service, state of the world.

Envoy (the data plane `modelport up --data-plane envoy` and the chart run) and proxyless
gRPC clients (`xds:///modelport` targets) open one ADS stream each. The control plane
follows the registry: on every change (coalesced over `DEBOUNCE_S`) it derives the
resources again (`xds_resources`), and when they differ it bumps the version and pushes
every subscribed type to every stream. A client tells Envoy clients from proxyless ones
by its node's user agent (`envoy`); proxyless clients get API listeners and
round-robin clusters without Envoy-only features.

Protocol (state of the world, as go-control-plane serves it): a request whose nonce is
not the last one sent on its type is stale and ignored; a request with the version last
sent is an ACK; one with `error_detail` is a NACK: logged, counted
(`modelport_router_xds_nacks_total`) and not answered with the same version again (the
client keeps its last good config). Listeners and clusters are wildcard subscriptions
when the request names none (Envoy's); endpoints are sent for the names asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import grpc
from envoy.service.discovery.v3 import ads_pb2, ads_pb2_grpc, discovery_pb2
from google.protobuf import any_pb2

from modelport.router import xds_resources as xr
from modelport.router.metrics import RouterMetrics
from modelport.router.registry import Registry, ReplicaState
from modelport.serving import endpoints
from modelport.serving.errors import ResourceExhausted
from modelport.serving.server import ServiceBinding

log = logging.getLogger(__name__)

ADS_SERVICE = ads_pb2.DESCRIPTOR.services_by_name["AggregatedDiscoveryService"].full_name
DEBOUNCE_S = 0.05
"""Registry changes closer together than this are pushed as one version."""
WILDCARD_TYPES = (xr.LISTENER, xr.CLUSTER)


@dataclass(frozen=True)
class Snapshot:
    version: str
    envoy: dict[str, dict[str, Any]]
    proxyless: dict[str, dict[str, Any]]

    def of(self, proxyless: bool) -> dict[str, dict[str, Any]]:
        return self.proxyless if proxyless else self.envoy


async def resolve(host: str) -> str | None:
    """The IP address of `host` (xDS endpoints are addresses, never names)."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        log.warning("xDS: cannot resolve replica host %r: %s", host, exc)
        return None
    return str(found[0][4][0]) if found else None


class ControlPlane(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):  # type: ignore[misc]
    """Follows the registry, serves ADS streams."""

    def __init__(
        self,
        registry: Registry,
        metrics: RouterMetrics,
        template: xr.Plan,
        *,
        warmup_s: float = 0.0,
    ) -> None:
        self._registry = registry
        self._warmup_s = warmup_s
        self._warm = asyncio.Event()
        self._metrics = metrics
        self.template = template
        """The plan's fixed parts (router address, listener, credentials...); set before
        `start`."""
        self._versions = itertools.count(1)
        self.snapshot = self._snapshot(template, "0")
        self._streams: set[asyncio.Queue[discovery_pb2.DiscoveryRequest | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None

    def binding(self) -> ServiceBinding:
        return ServiceBinding(
            ADS_SERVICE,
            lambda server: ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(
                self, server
            ),
        )

    # -- following the registry ------------------------------------------------------------
    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._follow(), name="xds-follow")
        self._warming = asyncio.create_task(self._warm_up(), name="xds-warm-up")

    async def _warm_up(self) -> None:
        """Answer no stream for `warmup_s` after start: a restarted router knows none of
        the replicas that hold leases until they renew, and Envoy keeps routing on its
        last config while its requests wait."""
        await asyncio.sleep(self._warmup_s)
        self._warm.set()

    async def close(self) -> None:
        for task in (self._task, self._warming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for queue in list(self._streams):
            queue.put_nowait(None)

    async def _follow(self) -> None:
        while True:
            watch = self._registry.watch()
            try:
                while True:
                    await watch.get()
                    await asyncio.sleep(DEBOUNCE_S)
                    await self.refresh()
            except ResourceExhausted:
                await self.refresh()
                continue
            finally:
                self._registry.unwatch(watch)

    async def plan(self) -> xr.Plan:
        """The registry's READY replicas, resolved, and its splits."""
        models: dict[str, tuple[xr.VersionPlan, ...]] = {}
        hosts: dict[str, str | None] = {}
        for name in self._registry.names():
            versions = []
            for view in self._registry.versions(name):
                addresses = []
                for replica in view.replicas:
                    if replica.state is not ReplicaState.READY:
                        continue
                    try:
                        host, port = endpoints.split_host_port(replica.endpoint)
                    except ValueError:
                        continue  # a unix: socket: no xDS endpoint can name it
                    if host not in hosts:
                        hosts[host] = await resolve(host)
                    if (ip := hosts[host]) is not None:
                        addresses.append((ip, port))
                if addresses:
                    versions.append(
                        xr.VersionPlan(view.version, tuple(sorted(set(addresses))), view.weight)
                    )
            if versions:
                models[name] = tuple(versions)
        return replace(self.template, models=models)

    def _snapshot(self, plan: xr.Plan, version: str) -> Snapshot:
        return Snapshot(
            version,
            xr.resources(plan, proxyless=False),
            xr.resources(plan, proxyless=True),
        )

    async def refresh(self) -> None:
        """Derive the resources again; a new version (pushed to every stream) when they
        changed."""
        plan = await self.plan()
        candidate = self._snapshot(plan, self.snapshot.version)
        if candidate == self.snapshot and self.snapshot.version != "0":
            return
        self.snapshot = replace(candidate, version=str(next(self._versions)))
        self._metrics.xds_version.set(int(self.snapshot.version))
        log.info(
            "xDS version %s: %d model(s), %d cluster(s)",
            self.snapshot.version,
            len(plan.models),
            len(self.snapshot.envoy[xr.CLUSTER]),
        )
        for queue in list(self._streams):
            queue.put_nowait(None)

    # -- ADS ------------------------------------------------------------------------------
    async def StreamAggregatedResources(
        self,
        request_iterator: AsyncIterator[discovery_pb2.DiscoveryRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[discovery_pb2.DiscoveryResponse]:
        queue: asyncio.Queue[discovery_pb2.DiscoveryRequest | None] = asyncio.Queue()
        stream = _Stream(context.peer() or "?")

        async def read() -> None:
            try:
                async for request in request_iterator:
                    queue.put_nowait(request)
            finally:
                stream.closed = True
                queue.put_nowait(None)

        self._streams.add(queue)
        reader = asyncio.create_task(read(), name="xds-read")
        self._metrics.xds_streams.inc()
        try:
            await self._warm.wait()
            while True:
                request = await queue.get()
                if stream.closed and queue.empty():
                    return
                if request is None:  # a new snapshot (or the end)
                    for type_url in list(stream.subscribed):
                        if stream.sent_version.get(type_url) != self.snapshot.version:
                            yield self._response(stream, type_url)
                    continue
                response = self._on_request(stream, request)
                if response is not None:
                    yield response
        finally:
            self._metrics.xds_streams.dec()
            self._streams.discard(queue)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await reader

    def _on_request(
        self, stream: _Stream, request: discovery_pb2.DiscoveryRequest
    ) -> discovery_pb2.DiscoveryResponse | None:
        if request.HasField("node") and stream.node is None:
            stream.node = request.node.id or "?"
            stream.proxyless = request.node.user_agent_name.lower() != "envoy"
            log.info(
                "xDS stream from %s (node %s, %s %s)",
                stream.peer,
                stream.node,
                request.node.user_agent_name or "unknown agent",
                request.node.user_agent_version,
            )
        type_url = request.type_url
        if type_url not in xr.TYPES:
            log.warning("xDS: %s asked for an unknown type %s", stream.node, type_url)
            return None
        if request.response_nonce and request.response_nonce != stream.nonce.get(type_url):
            return None  # stale: answers a response that was superseded
        names = tuple(sorted(request.resource_names))
        if request.HasField("error_detail"):
            self._metrics.xds_nacks.labels(type_url.rsplit(".", 1)[-1]).inc()
            log.warning(
                "xDS NACK from %s for %s version %s: %s",
                stream.node,
                type_url.rsplit(".", 1)[-1],
                stream.sent_version.get(type_url, "?"),
                request.error_detail.message,
            )
            stream.nacked[type_url] = stream.sent_version.get(type_url, "")
            if names == stream.subscribed.get(type_url):
                return None
        same = names == stream.subscribed.get(type_url)
        stream.subscribed[type_url] = names
        if same and request.version_info == self.snapshot.version:
            return None  # ACK of the current version
        if same and stream.nacked.get(type_url) == self.snapshot.version:
            return None
        return self._response(stream, type_url)

    def _response(self, stream: _Stream, type_url: str) -> discovery_pb2.DiscoveryResponse:
        snapshot = self.snapshot
        available = snapshot.of(stream.proxyless)[type_url]
        names = stream.subscribed.get(type_url, ())
        if not names and type_url in WILDCARD_TYPES:
            chosen = [available[n] for n in sorted(available)]
        else:
            chosen = [available[n] for n in names if n in available]
        stream.nonce_counter += 1
        nonce = str(stream.nonce_counter)
        stream.nonce[type_url] = nonce
        stream.sent_version[type_url] = snapshot.version
        self._metrics.xds_pushes.labels(type_url.rsplit(".", 1)[-1]).inc()
        resources = []
        for message in chosen:
            packed = any_pb2.Any()
            packed.Pack(message)
            resources.append(packed)
        return discovery_pb2.DiscoveryResponse(
            version_info=snapshot.version, resources=resources, type_url=type_url, nonce=nonce
        )


class _Stream:
    """One ADS stream's subscriptions and what was last sent on each type."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.node: str | None = None
        self.proxyless = True
        self.closed = False
        self.subscribed: dict[str, tuple[str, ...]] = {}
        self.nonce: dict[str, str] = {}
        self.sent_version: dict[str, str] = {}
        self.nacked: dict[str, str] = {}
        self.nonce_counter = 0
