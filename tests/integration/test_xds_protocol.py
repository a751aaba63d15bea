"""The router's ADS protocol, seen by a grpcio ADS client: a version per registry change,
ACKs answered by nothing, NACKs logged and counted (and the same version not sent again),
stale nonces ignored, endpoints only for READY replicas, splits as weighted clusters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2,
)
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.rpc import status_pb2

from modelport.router.__main__ import RouterServer
from modelport.router.registry import Registration, ReplicaState, Source
from modelport.router.xds_resources import CLUSTER, ENDPOINT, LISTENER
from tests.helpers import start_router


class AdsClient:
    """One ADS stream: send requests, read responses."""

    def __init__(self, address: str, agent: str) -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.requests: asyncio.Queue[discovery_pb2.DiscoveryRequest] = asyncio.Queue()
        self.node = base_pb2.Node(id="test", user_agent_name=agent)

        async def outgoing() -> AsyncIterator[discovery_pb2.DiscoveryRequest]:
            while True:
                yield await self.requests.get()

        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self.channel)
        self.call = stub.StreamAggregatedResources(outgoing())
        self._pending: asyncio.Future[Any] | None = None

    def ask(self, type_url: str, names: tuple[str, ...] = (), **fields: Any) -> None:
        self.requests.put_nowait(
            discovery_pb2.DiscoveryRequest(
                node=self.node, type_url=type_url, resource_names=names, **fields
            )
        )

    async def read(self, timeout_s: float = 10) -> discovery_pb2.DiscoveryResponse:
        if self._pending is None:
            self._pending = asyncio.ensure_future(self.call.read())
        done, _ = await asyncio.wait({self._pending}, timeout=timeout_s)
        if not done:
            raise TimeoutError(f"no response within {timeout_s} s")
        response: discovery_pb2.DiscoveryResponse = self._pending.result()
        self._pending = None
        return response

    async def quiet(self, wait_s: float = 0.5) -> bool:
        """Whether nothing arrives within `wait_s` (a read still waiting is kept)."""
        if self._pending is None:
            self._pending = asyncio.ensure_future(self.call.read())
        done, _ = await asyncio.wait({self._pending}, timeout=wait_s)
        return not done

    async def close(self) -> None:
        self.call.cancel()
        await self.channel.close(None)


def unpack(response: discovery_pb2.DiscoveryResponse, kind: type[Any]) -> list[Any]:
    made = []
    for packed in response.resources:
        message = kind()
        packed.Unpack(message)
        made.append(message)
    return made


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[RouterServer]:
    server = await start_router(
        tmp_path, xds=True, xds_warmup_s=0, xds_listen_address="127.0.0.1:10000"
    )
    try:
        yield server
    finally:
        await server.stop()


def replica(endpoint: str, version: str = "1", state: ReplicaState = ReplicaState.READY) -> Any:
    return Registration("m", version, endpoint, "embedding", state, Source.PERSISTENT)


async def test_versions_acks_nacks_and_endpoints(router: RouterServer) -> None:
    client = AdsClient(f"127.0.0.1:{router.port}", "envoy")
    try:
        client.ask(CLUSTER)
        first = await client.read()
        names = [c.name for c in unpack(first, cluster_pb2.Cluster)]
        assert names == ["modelport-router"]
        client.ask(CLUSTER, version_info=first.version_info, response_nonce=first.nonce)  # ACK
        assert await client.quiet()
        # a registry change: a new version, with the model's cluster
        router.registry.register(replica("127.0.0.1:7001"))
        router.registry.register(replica("localhost:7002"))
        router.registry.register(replica("127.0.0.1:7003", state=ReplicaState.DRAINING))
        second = await client.read()
        assert int(second.version_info) > int(first.version_info)
        assert {c.name for c in unpack(second, cluster_pb2.Cluster)} == {
            "modelport-router",
            "model/m/1",
        }
        # a NACK: logged, counted, and the rejected version is not sent again
        client.ask(
            CLUSTER,
            version_info=first.version_info,
            response_nonce=second.nonce,
            error_detail=status_pb2.Status(code=3, message="rejected by the test"),
        )
        assert await client.quiet()
        nacks = router.metrics.registry.get_sample_value(
            "modelport_router_xds_nacks_total", {"type": "Cluster"}
        )
        assert nacks == 1
        # a stale nonce is ignored; EDS answers the names asked for, READY replicas only
        client.ask(ENDPOINT, ("model/m/1",))
        eds = await client.read()
        (assignment,) = unpack(eds, endpoint_pb2.ClusterLoadAssignment)
        addresses = sorted(
            (
                e.endpoint.address.socket_address.address,
                e.endpoint.address.socket_address.port_value,
            )
            for locality in assignment.endpoints
            for e in locality.lb_endpoints
        )
        assert addresses == [("127.0.0.1", 7001), ("127.0.0.1", 7002)]  # localhost resolved
        assert assignment.endpoints[0].load_balancing_weight.value == 1
        # the replica drains: a new version, EDS without it
        router.registry.register(replica("127.0.0.1:7001", state=ReplicaState.DRAINING))
        pushed = {}
        for _ in range(2):
            response = await client.read()
            pushed[response.type_url] = response
        (assignment,) = unpack(pushed[ENDPOINT], endpoint_pb2.ClusterLoadAssignment)
        assert [
            e.endpoint.address.socket_address.port_value
            for e in assignment.endpoints[0].lb_endpoints
        ] == [7002]
    finally:
        await client.close()


async def test_proxyless_clients_get_an_api_listener_and_splits_as_weighted_clusters(
    router: RouterServer,
) -> None:
    router.registry.register(replica("127.0.0.1:7001", "1"))
    router.registry.register(replica("127.0.0.1:7002", "2"))
    router.registry.set_split("m", {"1": 90, "2": 10})
    await router.control_plane.refresh()  # type: ignore[union-attr]
    client = AdsClient(f"127.0.0.1:{router.port}", "gRPC Python")
    try:
        client.ask(LISTENER, ("modelport",))
        (listener,) = unpack(await client.read(), listener_pb2.Listener)
        assert listener.name == "modelport"
        manager = http_connection_manager_pb2.HttpConnectionManager()
        listener.api_listener.api_listener.Unpack(manager)
        assert manager.http_filters[-1].name == "envoy.filters.http.router"
        routes = manager.route_config.virtual_hosts[0].routes
        by_name = {r.name: r for r in routes}
        assert by_name["m/1"].route.cluster == "model/m/1"
        assert by_name["m/2"].route.cluster == "model/m/2"
        weights = {c.name: c.weight.value for c in by_name["m"].route.weighted_clusters.clusters}
        assert weights == {"model/m/1": 90, "model/m/2": 10}
        assert routes[-1].route.cluster == "modelport-router"  # no header: the router
        client.ask(CLUSTER, ("model/m/1",))
        (one,) = unpack(await client.read(), cluster_pb2.Cluster)
        assert one.lb_policy == cluster_pb2.Cluster.ROUND_ROBIN  # gRPC has no least-request
        assert one.outlier_detection.consecutive_gateway_failure.value == 3
    finally:
        await client.close()
