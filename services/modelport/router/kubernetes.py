"""Backends found in the cluster: watch EndpointSlices, ask each ready endpoint what it
serves, keep the registry current.

The official `kubernetes` client is synchronous, so the list/watch loop runs in a thread
and hands events to the event loop. Watches resume from the last resourceVersion and
relist on 410 Gone. Every router replica derives the same view; nothing is stored.
EndpointSlices are read through the generic API path (group/version/plural), so the API
version is a setting (v1, or v1beta1 on Kubernetes 1.20).

Endpoints are asked what they serve in background tasks, at most `probe_concurrency` at a
time and one at a time per endpoint, so a pod that hangs never holds up the EndpointSlice
events or the other pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import grpc

from modelport.router.pool import ReplicaPool
from modelport.router.registry import Registration, Registry, ReplicaState, Source
from modelport.router.servicer import task_from_proto
from modelport.v1 import common_pb2, registry_pb2, registry_pb2_grpc

log = logging.getLogger(__name__)

DISCOVERED = {
    common_pb2.MODEL_STATE_READY: ReplicaState.READY,
    common_pb2.MODEL_STATE_NOT_LOADED: ReplicaState.NOT_LOADED,
    common_pb2.MODEL_STATE_EVICTED: ReplicaState.EVICTED,
}
"""A backend's model states discovery registers: READY ones are routed to, catalogue
entries are loaded on demand; any other state is left out, as if not served."""

WATCH_TIMEOUT_S = 60
LIST_MODELS_TIMEOUT_S = 5.0


def ready_endpoints(slice_: dict[str, Any]) -> set[str]:
    """`host:port` of the ready endpoints of one EndpointSlice (port named grpc)."""
    ports = slice_.get("ports") or []
    port = next((p.get("port") for p in ports if p.get("name") == "grpc"), None)
    if port is None and ports:
        port = ports[0].get("port")
    if port is None:
        return set()
    out = set()
    for endpoint in slice_.get("endpoints") or []:
        conditions = endpoint.get("conditions") or {}
        if conditions.get("ready") is False or conditions.get("terminating") is True:
            continue
        for address in endpoint.get("addresses") or []:
            host = f"[{address}]" if ":" in address else address
            out.add(f"{host}:{port}")
    return out


class KubernetesDiscovery:
    def __init__(
        self,
        registry: Registry,
        pool: ReplicaPool,
        *,
        namespace: str,
        label_selector: str,
        api_version: str,
        kubeconfig: str | None,
        refresh_s: float,
        probe_concurrency: int,
    ) -> None:
        self._registry = registry
        self._pool = pool
        self._namespace = namespace
        self._selector = label_selector
        self._group, _, self._version = api_version.partition("/")
        self._kubeconfig = kubeconfig
        self._refresh_s = refresh_s
        self._probe_concurrency = probe_concurrency
        self._slices: dict[str, set[str]] = {}
        self._stop = threading.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._events: asyncio.Queue[tuple[str, Any]] | None = None
        self._probes: dict[str, asyncio.Task[None]] = {}
        """The ListModels call in flight to each endpoint."""
        self._probe_slots: asyncio.Semaphore | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        self._probe_slots = asyncio.Semaphore(self._probe_concurrency)
        api = await asyncio.to_thread(self._api)

        def post(kind: str, payload: Any) -> None:
            loop.call_soon_threadsafe(self._events.put_nowait, (kind, payload))  # type: ignore[union-attr]

        threading.Thread(
            target=self._watch_forever, args=(api, post), daemon=True, name="endpointslice-watch"
        ).start()
        self._tasks = [
            asyncio.create_task(self._apply_events()),
            asyncio.create_task(self._refresh_forever()),
        ]

    async def close(self) -> None:
        self._stop.set()
        for task in [*self._tasks, *self._probes.values()]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _api(self) -> Any:
        from kubernetes import client, config

        if self._kubeconfig:
            config.load_kube_config(config_file=self._kubeconfig)
        else:
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
        return client.CustomObjectsApi()

    # -- the watch thread -------------------------------------------------------------------
    def _watch_forever(self, api: Any, post: Callable[[str, Any], None]) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    listing = api.list_namespaced_custom_object(
                        self._group,
                        self._version,
                        self._namespace,
                        "endpointslices",
                        label_selector=self._selector,
                    )
                    version = listing["metadata"]["resourceVersion"]
                    post(
                        "relist",
                        {
                            i["metadata"]["name"]: ready_endpoints(i)
                            for i in listing.get("items", [])
                        },
                    )
                stream = watch.Watch().stream(
                    api.list_namespaced_custom_object,
                    self._group,
                    self._version,
                    self._namespace,
                    "endpointslices",
                    label_selector=self._selector,
                    resource_version=version,
                    timeout_seconds=WATCH_TIMEOUT_S,
                    allow_watch_bookmarks=True,
                )
                for event in stream:
                    if self._stop.is_set():
                        return
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        if obj.get("code") == 410:
                            version = ""  # too old: list again
                            break
                        raise RuntimeError(obj.get("message", "watch error"))
                    version = obj["metadata"].get("resourceVersion", version)
                    if event["type"] == "BOOKMARK":
                        continue
                    name = obj["metadata"]["name"]
                    endpoints = set() if event["type"] == "DELETED" else ready_endpoints(obj)
                    post("slice", (name, endpoints))
            except ApiException as exc:
                if exc.status == 410:
                    version = ""
                    continue
                log.warning("EndpointSlice watch failed (%s); retrying", exc.status)
                self._stop.wait(2.0)
            except Exception:
                log.exception("EndpointSlice watch failed; retrying")
                version = ""
                self._stop.wait(2.0)

    # -- on the event loop --------------------------------------------------------------------
    async def _apply_events(self) -> None:
        assert self._events is not None
        while True:
            kind, payload = await self._events.get()
            before = self._endpoints()
            if kind == "relist":
                self._slices = dict(payload)
            else:
                name, endpoints = payload
                if endpoints:
                    self._slices[name] = endpoints
                else:
                    self._slices.pop(name, None)
            after = self._endpoints()
            for endpoint in sorted(before - after):
                log.info("endpoint %s left", endpoint)
                probe = self._probes.pop(endpoint, None)
                if probe is not None:
                    probe.cancel()
                self._registry.remove_endpoint(endpoint, Source.KUBERNETES)
                await self._pool.drop(endpoint)
            for endpoint in sorted(after - before):
                log.info("endpoint %s is ready", endpoint)
                self._probe(endpoint)

    def _endpoints(self) -> set[str]:
        return {e for endpoints in self._slices.values() for e in endpoints}

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            for endpoint in sorted(self._endpoints()):
                self._probe(endpoint)

    def _probe(self, endpoint: str) -> None:
        """Discover `endpoint` in the background, unless a probe of it is in flight."""
        if endpoint in self._probes:
            return
        probe = asyncio.create_task(self._discover(endpoint), name=f"discover {endpoint}")
        self._probes[endpoint] = probe
        probe.add_done_callback(partial(self._probed, endpoint))

    def _probed(self, endpoint: str, probe: asyncio.Task[None]) -> None:
        if self._probes.get(endpoint) is probe:
            del self._probes[endpoint]
        if not probe.cancelled() and (error := probe.exception()) is not None:
            log.error("discovering %s failed", endpoint, exc_info=error)

    async def _discover(self, endpoint: str) -> None:
        """Register what `endpoint` serves now (and drop what it no longer serves)."""
        assert self._probe_slots is not None
        stub = registry_pb2_grpc.RegistryServiceStub(self._pool.get(endpoint).channel)
        try:
            async with self._probe_slots:
                response = await stub.ListModels(
                    registry_pb2.ListModelsRequest(),
                    timeout=LIST_MODELS_TIMEOUT_S,
                    metadata=self._pool.call_metadata,
                )
        except grpc.aio.AioRpcError as exc:
            log.warning("cannot list the models of %s: %s", endpoint, exc.code())
            return
        serving = set()
        for info in response.models:
            for version in info.versions:
                state = DISCOVERED.get(version.state)
                if state is None:  # loading, failed or leaving: not routed, not loadable
                    continue
                serving.add((info.name, version.version))
                replica = version.replicas[0] if version.replicas else registry_pb2.Replica()
                self._registry.register(
                    Registration(
                        info.name,
                        version.version,
                        endpoint,
                        task_from_proto(version.task),
                        state,
                        Source.KUBERNETES,
                        metadata=dict(version.metadata),
                        size_bytes=replica.size_bytes,
                        pinned=replica.pinned,
                    )
                )
        for registration in self._registry.registrations():
            if (
                registration.endpoint == endpoint
                and registration.source is Source.KUBERNETES
                and (registration.name, registration.version) not in serving
            ):
                # still there, no longer serving it (unloaded): a load may reach it again
                self._registry.deregister(
                    registration.name, registration.version, endpoint, forget=False
                )
