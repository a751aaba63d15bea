"""Kubernetes discovery asks endpoints what they serve concurrently: a hung pod does not
hold up the others. A small HTTP server stands in for the Kubernetes API (one
EndpointSlice list, then a watch that stays open without events); the backends are real
gRPC servers on loopback (tests/integration/test_kubernetes_discovery.py runs against a
real kube-apiserver)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from modelport.router.kubernetes import KubernetesDiscovery
from modelport.router.metrics import RouterMetrics
from modelport.router.pool import ReplicaPool
from modelport.router.registry import Registry, Source
from modelport.router.settings import RouterSettings
from modelport.v1 import common_pb2, registry_pb2

pytest.importorskip("kubernetes")

REGISTRY = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


def endpoint_slice(name: str, address: str, port: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "ports": [{"name": "grpc", "port": port}],
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
    }


class FakeKubernetesApi(ThreadingHTTPServer):
    """Lists `slices`; a watch gets its headers and then nothing until `close()`."""

    daemon_threads = True

    def __init__(self, slices: list[dict[str, Any]]) -> None:
        self.slices = slices
        self.closing = threading.Event()
        super().__init__(("127.0.0.1", 0), _ApiHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def kubeconfig(self, path: Path) -> Path:
        server = f"http://127.0.0.1:{self.server_address[1]}"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "fake",
                    "clusters": [{"name": "fake", "cluster": {"server": server}}],
                    "users": [{"name": "fake", "user": {}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                }
            )
        )
        return path

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class _ApiHandler(BaseHTTPRequestHandler):
    server: FakeKubernetesApi

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if "watch=" in self.path:
            self.end_headers()
            self.wfile.flush()
            self.server.closing.wait(60)
            return
        body = json.dumps(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSliceList",
                "metadata": {"resourceVersion": "1"},
                "items": self.server.slices,
            }
        ).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def list_models(
    request: registry_pb2.ListModelsRequest, context: Any
) -> registry_pb2.ListModelsResponse:
    """A backend's RegistryService/ListModels as discovery sees it: one READY model."""
    version = registry_pb2.ModelVersion(
        version="1",
        task=common_pb2.TASK_TEXT2TEXT_GENERATION,
        state=common_pb2.MODEL_STATE_READY,
    )
    return registry_pb2.ListModelsResponse(
        models=[registry_pb2.ModelInfo(name="healthy", versions=[version])]
    )


@pytest.fixture
async def healthy() -> AsyncIterator[int]:
    """A backend on 127.0.0.2 (its address sorts after the hung one's)."""
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        list_models,
        request_deserializer=registry_pb2.ListModelsRequest.FromString,
        response_serializer=registry_pb2.ListModelsResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(REGISTRY, {"ListModels": handler}),)
    )
    port = server.add_insecure_port("127.0.0.2:0")
    await server.start()
    yield port
    await server.stop(0)


@pytest.fixture
async def hung() -> AsyncIterator[int]:
    """Accepts connections and never answers (a pod stuck before its gRPC server)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()


@pytest.fixture
def api(hung: int, healthy: int) -> Iterator[FakeKubernetesApi]:
    api = FakeKubernetesApi(
        [
            endpoint_slice("a-hung", "127.0.0.1", hung),
            endpoint_slice("b-healthy", "127.0.0.2", healthy),
        ]
    )
    yield api
    api.close()


async def test_a_hung_endpoint_does_not_hold_up_discovery_of_a_healthy_one(
    api: FakeKubernetesApi, hung: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    settings = RouterSettings(metrics_port=-1, data_dir=tmp_path)
    pool = ReplicaPool(
        settings, RouterMetrics(), eject_after=3, connect_timeout_s=1.0, probe_interval_s=0.25
    )
    discovery = KubernetesDiscovery(
        registry,
        pool,
        namespace="default",
        label_selector=settings.kubernetes_label_selector,
        api_version="discovery.k8s.io/v1",
        kubeconfig=str(api.kubeconfig(tmp_path / "kubeconfig")),
        refresh_s=3600,
        probe_concurrency=4,
    )
    watch = registry.watch()
    with caplog.at_level(logging.WARNING, logger="modelport.router.kubernetes"):
        await discovery.start()
        try:
            async with asyncio.timeout(30):
                while "healthy" not in registry.names():
                    await watch.get()
            # the hung endpoint was asked first and has not answered or failed yet
            assert not [r for r in caplog.records if f":{hung}" in r.getMessage()]
        finally:
            await discovery.close()
            await pool.close()
    (registration,) = registry.registrations()
    assert (registration.source, registration.task) == (Source.KUBERNETES, "text2text-generation")


@pytest.fixture
async def guarded() -> AsyncIterator[int]:
    """A backend whose ListModels answers only the router's token (on 127.0.0.3)."""

    async def guarded_list(
        request: registry_pb2.ListModelsRequest, context: Any
    ) -> registry_pb2.ListModelsResponse:
        if dict(context.invocation_metadata()).get("authorization") != "Bearer router-token":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid credentials")
        return await list_models(request, context)

    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        guarded_list,
        request_deserializer=registry_pb2.ListModelsRequest.FromString,
        response_serializer=registry_pb2.ListModelsResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(REGISTRY, {"ListModels": handler}),)
    )
    port = server.add_insecure_port("127.0.0.3:0")
    await server.start()
    yield port
    await server.stop(0)


async def test_discovery_asks_a_guarded_backend_with_the_routers_token(
    guarded: int, tmp_path: Path
) -> None:
    """H1: the router's discovery probes carry its credential, so a backend that requires
    one (as the chart deploys them) is still found."""
    api = FakeKubernetesApi([endpoint_slice("c-guarded", "127.0.0.3", guarded)])
    registry = Registry(lease_ttl_s=10.0, max_lease_ttl_s=60.0)
    settings = RouterSettings(metrics_port=-1, data_dir=tmp_path)
    pool = ReplicaPool(
        settings,
        RouterMetrics(),
        eject_after=3,
        connect_timeout_s=1.0,
        probe_interval_s=0.25,
        token="router-token",
    )
    discovery = KubernetesDiscovery(
        registry,
        pool,
        namespace="default",
        label_selector=settings.kubernetes_label_selector,
        api_version="discovery.k8s.io/v1",
        kubeconfig=str(api.kubeconfig(tmp_path / "kubeconfig")),
        refresh_s=3600,
        probe_concurrency=4,
    )
    watch = registry.watch()
    await discovery.start()
    try:
        async with asyncio.timeout(30):
            while "healthy" not in registry.names():
                await watch.get()
    finally:
        await discovery.close()
        await pool.close()
        api.close()
    (registration,) = registry.registrations()
    assert registration.endpoint == f"127.0.0.3:{guarded}"
