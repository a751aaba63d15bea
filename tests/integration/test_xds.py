"""The router as an xDS control plane, with Envoy from the wheel and tiny-model backends.

Real processes: a router (`MODELPORT_XDS=1`), embedding backends that register with it,
Envoy configured by it over ADS, and grpcio clients calling through Envoy. What each
test shows: calls with `x-modelport-model` go from Envoy straight to a replica (the
router serves none of them) and answer as the router does; calls without it go through
the router; the caller's token never reaches a replica; a registry change reaches Envoy
as a new version; a DRAINING replica leaves the endpoints; a SIGKILLed replica stops
getting calls; Envoy keeps routing while the router is down.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from envoy.service.discovery.v3 import ads_pb2_grpc

from modelport.client import ModelportClient
from modelport.embedding.__main__ import build
from modelport.embedding.settings import EmbeddingSettings
from modelport.inference.settings import ModelSpec
from modelport.router.envoy import Envoy, proxyless_bootstrap
from modelport.serving.calls import MODEL_HEADER, VERSION_HEADER
from modelport.suite import Suite, local_suite
from modelport.v1 import embedding_pb2, embedding_pb2_grpc, registry_pb2
from tests.cluster import (
    MODEL,
    backend_process,
    registry,
    request,
    router_metrics,
    router_process,
    stop_all,
    tiny,
    wait_for,
    wait_replicas,
)
from tests.helpers import (
    RecordingReplica,
    ServiceProcess,
    free_port,
    free_port_run,
    loopback_settings,
    models_file,
    running_server,
)
from tests.pki import issue
from tests.pki import write as pki_files

pytestmark = pytest.mark.slow


class DataPlane:
    def __init__(self, router: ServiceProcess, envoy: Envoy, listen: int) -> None:
        self.router = router
        self.envoy = envoy
        self.address = f"127.0.0.1:{listen}"
        self.channel = grpc.insecure_channel(self.address)
        self.stub = embedding_pb2_grpc.EmbeddingServiceStub(self.channel)

    def embed(
        self, version: str = "", *, header: bool = True, token: str | None = None
    ) -> list[float]:
        metadata: list[tuple[str, str | bytes]] = [(MODEL_HEADER, MODEL)] if header else []
        if version and header:
            metadata.append((VERSION_HEADER, version))
        if token is not None:
            metadata.append(("authorization", f"Bearer {token}"))
        answer = self.stub.Embed(request(version), metadata=tuple(metadata), timeout=30)
        return list(answer.embeddings[0].values)

    def endpoints(self, cluster: str) -> set[str]:
        """host:port of the endpoints Envoy holds for `cluster`."""
        found = re.findall(
            rf"^{re.escape(cluster)}::(\d+\.\d+\.\d+\.\d+:\d+)::health_flags::",
            self.envoy.admin("/clusters"),
            re.MULTILINE,
        )
        return set(found)

    def stat(self, name: str) -> int:
        for line in self.envoy.admin(f"/stats?filter=^{re.escape(name)}$").splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        return 0


def assert_every_config_taken(router: ServiceProcess) -> None:
    """The router's xDS clients took every resource it pushed: no NACK."""
    samples = router_metrics(router)
    assert samples["modelport_router_xds_streams"] >= 1
    assert not any(k.startswith("modelport_router_xds_nacks_total") for k in samples)
    assert samples['modelport_router_xds_pushes_total{type="Listener"}'] >= 2


@pytest.fixture
def plane(tmp_path: Path, free_env: dict[str, str]) -> Iterator[DataPlane]:
    listen = free_port()
    router = router_process(
        free_env,
        tmp_path / "data",
        MODELPORT_XDS="1",
        MODELPORT_XDS_LISTEN_ADDRESS=f"127.0.0.1:{listen}",
    )
    router.start().wait_serving()
    envoy = Envoy(("127.0.0.1", router.port), free_port(), tmp_path).start()
    try:
        assert envoy.wait_ready(), "Envoy did not take the router's listener"
        yield DataPlane(router, envoy, listen)
    finally:
        envoy.stop()
        router.stop()


def test_header_calls_go_straight_to_the_replica_and_others_through_the_router(
    plane: DataPlane, tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> None:
    backend = backend_process(free_env, plane.router, tiny(tmp_path, tiny_bert_dir))
    backend.start()
    try:
        wait_replicas(plane.router, 1)
        wait_for(lambda: bool(plane.endpoints(f"model/{MODEL}/1")), "Envoy has the replica")
        via_router = embedding_pb2_grpc.EmbeddingServiceStub(
            grpc.insecure_channel(plane.router.address)
        ).Embed(request(), timeout=30)
        routed_before = plane.router.served_calls()
        direct = [plane.embed() for _ in range(5)]
        assert plane.router.served_calls() == routed_before, "a header call went via the router"
        assert all(d == pytest.approx(list(via_router.embeddings[0].values)) for d in direct)
        assert plane.embed("1") == pytest.approx(direct[0])
        # Modelport's client names the model in the header itself
        with ModelportClient(plane.address) as client:
            assert client.embed(["route me"], model=MODEL).vectors[0] == pytest.approx(direct[0])
        assert plane.router.served_calls() == routed_before
        plane.embed(header=False)  # no header: the router reads the body
        assert plane.router.served_calls() == routed_before + 1
        # a version with no READY replica: the router answers (NOT_FOUND, naming versions)
        with pytest.raises(grpc.RpcError) as missing:
            plane.embed("7")
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        assert "'1'" in (missing.value.details() or "")
        # a model with no replica at all: the router answers, as without Envoy
        with pytest.raises(grpc.RpcError) as unknown:
            plane.stub.Embed(request(name="nope"), metadata=((MODEL_HEADER, "nope"),), timeout=30)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        # a client stream through Envoy, straight to the replica
        streamed = list(
            plane.stub.EmbedStream(iter([request(), request()]), metadata=((MODEL_HEADER, MODEL),))
        )
        assert len(streamed) == 2
        assert all(list(s.embeddings[0].values) == pytest.approx(direct[0]) for s in streamed)
        assert backend.served_calls("/modelport.v1.EmbeddingService/EmbedStream") == 1
        assert_every_config_taken(plane.router)  # by Envoy
    finally:
        stop_all(backend)


@pytest.fixture
def pair(
    plane: DataPlane, tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """Two replicas of model `m` version 1, both in Envoy's endpoints."""
    first = backend_process(free_env, plane.router, tiny(tmp_path, tiny_bert_dir))
    second = backend_process(free_env, plane.router, tiny(tmp_path, tiny_bert_dir))
    first.start()
    second.start()
    try:
        wait_replicas(plane.router, 2)
        wanted = {first.address, second.address}
        wait_for(lambda: plane.endpoints(CLUSTER) == wanted, "both replicas in EDS")
        yield first, second
    finally:
        stop_all(first, second)


CLUSTER = f"model/{MODEL}/1"


def test_registry_changes_reach_envoy_and_draining_replicas_leave_the_endpoints(
    plane: DataPlane, pair: tuple[ServiceProcess, ServiceProcess]
) -> None:
    first, second = pair
    # SIGTERM: the backend drains (DRAINING, then gone): no new calls reach it
    first.signal(signal.SIGTERM)
    wait_for(lambda: plane.endpoints(CLUSTER) == {second.address}, "first left EDS")
    before = second.served_calls()
    for _ in range(6):
        plane.embed()
    assert second.served_calls() == before + 6
    assert plane.stat("listener_manager.lds.update_rejected") == 0
    assert plane.stat("cluster_manager.cds.update_rejected") == 0
    # the last replica goes: its cluster leaves Envoy, and calls go to the router, which
    # answers as it does for a model with no replica
    second.signal(signal.SIGTERM)
    wait_for(lambda: f"{CLUSTER}::" not in plane.envoy.admin("/clusters"), "cluster gone")
    with pytest.raises(grpc.RpcError) as gone:
        plane.embed()
    assert gone.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE)


def test_a_sigkilled_replica_is_ejected_and_envoy_routes_on_while_the_router_is_down(
    plane: DataPlane, pair: tuple[ServiceProcess, ServiceProcess]
) -> None:
    first, second = pair
    first.kill()
    # every call still answers: one that finds the dead replica is tried on the other
    # (connect-failure), and the dead one is ejected before its lease even lapses
    outcomes = [plane.embed() for _ in range(20)]
    assert len(outcomes) == 20
    assert second.served_calls() >= 20
    # the router goes away: Envoy keeps its last config and keeps routing
    plane.router.kill()
    assert [plane.embed() for _ in range(5)]
    plane.router.start().wait_serving()
    wait_replicas(plane.router, 1)
    # the restarted router pushes its first config once the leases had time to come back
    wait_for(lambda: plane.endpoints(CLUSTER) == {second.address}, "the new config")
    assert plane.embed()


CLIENT_TOKEN = "client-token-through-envoy"
DATA_PLANE_TOKEN = "envoy-data-plane-token"
BACKEND_TOKEN = "router-backend-token"


@pytest.fixture
def guarded(
    tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> Iterator[tuple[DataPlane, ServiceProcess, RecordingReplica]]:
    """Callers authenticate: a router with client and data-plane tokens and a rate limit,
    a backend that accepts only the router's token, a recording replica (model `rec`),
    and Envoy presenting the data plane's token to the router."""
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        yaml.safe_dump(
            {
                "tokens": [
                    {"token": CLIENT_TOKEN, "identity": "team-a", "role": "client"},
                    {"token": DATA_PLANE_TOKEN, "identity": "envoy", "role": "router"},
                ]
            }
        )
    )
    backend_token = tmp_path / "backend-token"
    backend_token.write_text(BACKEND_TOKEN)
    data_plane_token = tmp_path / "data-plane-token"
    data_plane_token.write_text(DATA_PLANE_TOKEN)
    backend = ServiceProcess(
        "modelport.embedding",
        {
            **free_env,
            "MODELPORT_MODELS_FILE": str(tiny(tmp_path, tiny_bert_dir)),
            "MODELPORT_AUTH_ROUTER_TOKEN_FILE": str(backend_token),
            "MODELPORT_TORCH_THREADS": "1",
        },
        free_port(),
        free_port(),
    )
    recording = RecordingReplica()
    listen = free_port()
    router = router_process(
        free_env,
        tmp_path / "data",
        MODELPORT_XDS="1",
        MODELPORT_XDS_WARMUP_S="0",
        MODELPORT_XDS_LISTEN_ADDRESS=f"127.0.0.1:{listen}",
        MODELPORT_AUTH_TOKENS_FILE=str(tokens),
        MODELPORT_BACKEND_TOKEN_FILE=str(backend_token),
        MODELPORT_DATA_PLANE_TOKEN_FILE=str(data_plane_token),
        MODELPORT_RATE_LIMIT_PER_S="0.01",
        MODELPORT_RATE_LIMIT_BURST="12",
        MODELPORT_STATIC_REPLICAS=json.dumps(
            [
                {"name": MODEL, "endpoint": backend.address},
                {"name": "rec", "endpoint": recording.address},
            ]
        ),
    )
    envoy = Envoy(("127.0.0.1", router.port), free_port(), tmp_path, token=DATA_PLANE_TOKEN)
    backend.start()
    router.start()
    try:
        backend.wait_serving()
        router.wait_serving()
        envoy.start()
        assert envoy.wait_ready(), "Envoy did not take the router's listener"
        yield DataPlane(router, envoy, listen), backend, recording
    finally:
        envoy.stop()
        stop_all(router, backend)
        recording.server.stop(None)


def test_callers_authenticate_through_envoy_and_their_token_never_reaches_a_replica(
    guarded: tuple[DataPlane, ServiceProcess, RecordingReplica],
) -> None:
    plane, backend, recording = guarded
    bearer = ("authorization", f"Bearer {CLIENT_TOKEN}")
    wait_for(lambda: bool(plane.endpoints(CLUSTER)), "the backend in EDS")
    routed = plane.router.served_calls()
    answer = plane.embed(token=CLIENT_TOKEN)
    assert answer
    assert plane.router.served_calls() == routed  # straight to the backend
    assert plane.router.served_calls("/envoy.service.auth.v3.Authorization/Check") >= 1
    for token in (None, "wrong-token", DATA_PLANE_TOKEN[:-1]):
        with pytest.raises(grpc.RpcError) as denied:
            plane.embed(token=token)
        assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED, token
    assert backend.served_calls() == 1
    # the replica gets the router's credential and the caller's identity, never the
    # caller's token, whatever fair-share key the caller claims
    plane.stub.Embed(
        request(name="rec"),
        metadata=((MODEL_HEADER, "rec"), bearer, ("x-modelport-caller", "id:someone-else")),
        timeout=30,
    )
    received = recording.metadata[-1]
    assert received["authorization"] == f"Bearer {BACKEND_TOKEN}"
    assert received["x-modelport-caller"] == "id:team-a"
    assert not any(CLIENT_TOKEN in str(v) for v in received.values())
    # a version with no READY replica goes through the router, which routes by the body
    # and forwards neither routing header (a replica would take them from its credential)
    plane.stub.Embed(
        request(name="rec"),
        metadata=((MODEL_HEADER, "rec"), (VERSION_HEADER, "9"), bearer),
        timeout=30,
    )
    assert MODEL_HEADER not in recording.metadata[-1]
    assert VERSION_HEADER not in recording.metadata[-1]
    assert recording.metadata[-1]["authorization"] == f"Bearer {BACKEND_TOKEN}"
    # streams take the router's path (their every message is charged there)
    streamed = list(
        plane.stub.EmbedStream(iter([request()]), metadata=((MODEL_HEADER, MODEL), bearer))
    )
    assert len(streamed) == 1
    assert plane.router.served_calls("/modelport.v1.EmbeddingService/EmbedStream") == 1
    # the rate limit charges per input, as at the router: the bucket runs dry
    big = embedding_pb2.EmbedRequest(model=request().model, inputs=["x"] * 12)
    plane.stub.Embed(big, metadata=((MODEL_HEADER, MODEL), bearer), timeout=30)
    with pytest.raises(grpc.RpcError) as limited:
        plane.embed(token=CLIENT_TOKEN)
    assert limited.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # the control plane is the data plane's: a client token gets no config
    ads = ads_pb2_grpc.AggregatedDiscoveryServiceStub(grpc.insecure_channel(plane.router.address))
    with pytest.raises(grpc.RpcError) as refused:
        next(iter(ads.StreamAggregatedResources(iter([]), metadata=(bearer,), timeout=10)))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_local_suite_runs_envoy_from_the_wheel_beside_the_router(tmp_path: Path) -> None:
    """`modelport up --data-plane envoy`: the suite's router serves xDS and Envoy, started
    from the wheel with the suite's bootstrap, routes a header call to a replica (here a
    recording one, instead of the suite's backends)."""
    recording = RecordingReplica()
    port, envoy_port = free_port_run(4), free_port()
    components = local_suite(
        "127.0.0.1", port, free_port_run(5), str(tmp_path), envoy=(envoy_port, free_port())
    )
    router = components[0]
    (envoy,) = [c for c in components if c.name == "envoy"]
    router.env["MODELPORT_STATIC_REPLICAS"] = json.dumps(
        [{"name": "rec", "endpoint": recording.address}]
    )
    suite = Suite([router, envoy])
    suite.start(tmp_path / "logs")
    try:
        assert not suite.wait_ready("127.0.0.1", 60), (router.log_tail(), envoy.log_tail())
        stub = embedding_pb2_grpc.EmbeddingServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{envoy_port}")
        )
        wait_for(lambda: _answers(stub, (MODEL_HEADER, "rec")), "Envoy routes to the replica", 30)
        assert recording.metadata[-1][MODEL_HEADER] == "rec"
        assert router.metrics_port is not None
        metrics = ServiceProcess("modelport.router", {}, port, router.metrics_port)
        assert metrics.served_calls() == 0  # the router forwarded none of them
    finally:
        suite.stop()
        recording.server.stop(None)


def _answers(stub: embedding_pb2_grpc.EmbeddingServiceStub, header: tuple[str, str]) -> bool:
    try:
        stub.Embed(request(name="rec"), metadata=(header,), timeout=5)
    except grpc.RpcError:
        return False
    return True


def test_proxyless_grpc_clients_route_by_the_same_control_plane(
    plane: DataPlane, tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> None:
    """grpcio with an xDS bootstrap naming the router dials `xds:///modelport`: calls with
    the header go from the client straight to the replica (no hop; the router serves
    none of them), typed, streaming and OIP alike, with the router's answers; calls
    without it reach the router through the same control plane's router cluster."""
    backend = backend_process(free_env, plane.router, tiny(tmp_path, tiny_bert_dir))
    backend.start()
    try:
        wait_replicas(plane.router, 1)
        expected = list(
            embedding_pb2_grpc.EmbeddingServiceStub(grpc.insecure_channel(plane.router.address))
            .Embed(request(), timeout=30)
            .embeddings[0]
            .values
        )
        routed = plane.router.served_calls()
        bootstrap = json.dumps(proxyless_bootstrap(plane.router.address))
        done = subprocess.run(
            [sys.executable, "-m", "tests.proxyless_client", MODEL],
            env={**free_env, "GRPC_XDS_BOOTSTRAP_CONFIG": bootstrap},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        answers = json.loads(done.stdout.strip().splitlines()[-1])
        assert answers["header"] == pytest.approx(expected)
        assert answers["body"] == pytest.approx(expected)
        assert len(answers["streamed"]) == 2
        assert answers["streamed"][1] == pytest.approx(expected)
        assert answers["infer_outputs"]
        # only the call without the header went through the router
        assert plane.router.served_calls() == routed + 1
        assert plane.router.served_calls("/inference.GRPCInferenceService/ModelInfer") == 0
        assert backend.served_calls("/inference.GRPCInferenceService/ModelInfer") == 1
        assert backend.served_calls("/modelport.v1.EmbeddingService/EmbedStream") == 1
        assert_every_config_taken(plane.router)  # by Envoy and by grpcio
    finally:
        stop_all(backend)


def test_envoy_calls_tls_backends_with_the_routers_client_certificate(
    tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> None:
    """Backends that require mTLS from the router's CA: Envoy verifies them under the
    router's `backend_tls_server_name` and presents the router's client certificate."""
    ca = issue("modelport test CA", None)
    (tmp_path / "pki").mkdir()
    files = pki_files(
        tmp_path / "pki",
        {"ca": ca, "server": issue("backend", ca, server=True), "client": issue("router", ca)},
    )
    settings = loopback_settings(
        EmbeddingSettings,
        tls_cert_file=files["server.crt"],
        tls_key_file=files["server.key"],
        tls_client_ca_file=files["ca.crt"],
    )
    models = [ModelSpec(name=MODEL, runtime="sentence-embedding", path=tiny_bert_dir)]
    listen = free_port()
    with running_server(build, settings, models) as backend:
        router = router_process(
            free_env,
            tmp_path / "data",
            MODELPORT_XDS="1",
            MODELPORT_XDS_WARMUP_S="0",
            MODELPORT_XDS_LISTEN_ADDRESS=f"127.0.0.1:{listen}",
            MODELPORT_BACKEND_TLS_CA_FILE=str(files["ca.crt"]),
            MODELPORT_BACKEND_TLS_CERT_FILE=str(files["client.crt"]),
            MODELPORT_BACKEND_TLS_KEY_FILE=str(files["client.key"]),
            MODELPORT_BACKEND_TLS_SERVER_NAME="localhost",
            MODELPORT_STATIC_REPLICAS=json.dumps(
                [{"name": MODEL, "endpoint": f"127.0.0.1:{backend.port}"}]
            ),
        )
        envoy = Envoy(("127.0.0.1", router.port), free_port(), tmp_path)
        try:
            router.start().wait_serving()
            envoy.start()
            assert envoy.wait_ready()
            plane = DataPlane(router, envoy, listen)
            wait_for(lambda: bool(plane.endpoints(CLUSTER)), "the backend in EDS")
            assert plane.embed()
            assert plane.router.served_calls() == 0
            assert plane.stat(f"cluster.{CLUSTER}.ssl.handshake") >= 1
        finally:
            envoy.stop()
            router.stop()


def test_a_split_through_envoy_is_served_by_the_version_envoy_chose(
    plane: DataPlane, tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> None:
    """A backend serving versions 1 and 2: with a split all on version 1, an unpinned
    call through Envoy is answered by version 1 (Envoy names its choice in
    `x-modelport-version`, which the backend takes from the router's data plane only),
    not by the backend's newest."""
    spec = {"name": MODEL, "runtime": "sentence-embedding", "path": str(tiny_bert_dir)}
    both = models_file(tmp_path / "both.yaml", {**spec, "version": "1"}, {**spec, "version": "2"})
    backend = backend_process(free_env, plane.router, both)
    backend.start()

    def version() -> str:
        answer = plane.stub.Embed(request(), metadata=((MODEL_HEADER, MODEL),), timeout=30)
        return str(answer.model.version)

    try:
        wait_replicas(plane.router, 2)
        wait_for(lambda: version() == "2", "the newest version answers without a split")
        registry(plane.router).SetTrafficSplit(
            registry_pb2.SetTrafficSplitRequest(name=MODEL, weights={"1": 1}), timeout=10
        )
        wait_for(lambda: version() == "1", "Envoy has the split")
        assert {version() for _ in range(8)} == {"1"}
    finally:
        stop_all(backend)
