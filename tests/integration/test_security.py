"""TLS, mTLS, bearer tokens with roles, per-identity rate limits and the audit log, with
certificates made in the test and real processes on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from modelport.client import ClientError, ModelportClient
from modelport.embedding.__main__ import build
from modelport.embedding.settings import EmbeddingSettings
from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.helpers import (
    RecordingReplica,
    ServiceProcess,
    free_port,
    loopback_settings,
    rpc_error,
    running_server,
    start_router,
)
from tests.helpers import (
    aio_code as code,
)
from tests.pki import issue
from tests.pki import write as pki_files

pytestmark = pytest.mark.slow

TOKENS = {"client": "client-token", "admin": "admin-token", "busy": "busy-token"}
SPENDERS = ("streamer", "bulk", "watcher", "oip-bulk", "oip-streamer")
"""Client identities of the rate-limit tests, one each (tests run in any order)."""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pki")
    ca = issue("modelport test CA", None)
    rogue_ca = issue("someone else", None)
    return pki_files(
        out,
        {
            "ca": ca,
            "server": issue("backend", ca, server=True),
            "client": issue("router", ca),
            "rogue": issue("intruder", rogue_ca),
        },
    )


@pytest.fixture(scope="module")
def backend(pki: dict[str, Path], tiny_bert_dir: Path) -> Iterator[InferenceServer]:
    """An embedding backend that only accepts clients with a certificate from our CA."""
    settings = loopback_settings(
        EmbeddingSettings,
        tls_cert_file=pki["server.crt"],
        tls_key_file=pki["server.key"],
        tls_client_ca_file=pki["ca.crt"],
        health_port=0,
    )
    models = [ModelSpec(name="tiny", runtime="sentence-embedding", path=tiny_bert_dir)]
    with running_server(build, settings, models) as server:
        yield server


def mtls(pki: dict[str, Path], client: str | None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=pki["ca.crt"].read_bytes(),
        private_key=pki[f"{client}.key"].read_bytes() if client else None,
        certificate_chain=pki[f"{client}.crt"].read_bytes() if client else None,
    )


def embed_request(model: str = "tiny") -> embedding_pb2.EmbedRequest:
    return embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=model), inputs=["secure"])


def test_backend_requires_a_client_certificate_from_its_ca(
    pki: dict[str, Path], backend: InferenceServer
) -> None:
    target = f"127.0.0.1:{backend.port}"
    with grpc.secure_channel(target, mtls(pki, "client")) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        assert stub.Embed(embed_request(), timeout=10).embeddings
    for client in (None, "rogue"):
        with grpc.secure_channel(target, mtls(pki, client)) as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)

            def call(rejected: embedding_pb2_grpc.EmbeddingServiceStub = stub) -> object:
                return rejected.Embed(embed_request(), timeout=5)

            assert rpc_error(call).code() == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(target) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        assert rpc_error(lambda: stub.Embed(embed_request(), timeout=5)).code() == (
            grpc.StatusCode.UNAVAILABLE
        )


@pytest.fixture(scope="module")
def router(
    pki: dict[str, Path],
    backend: InferenceServer,
    free_env_module: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServiceProcess, Path]]:
    work = tmp_path_factory.mktemp("router")
    tokens = work / "tokens.yaml"
    tokens.write_text(
        yaml.safe_dump(
            {
                "tokens": [
                    {"token": TOKENS["client"], "identity": "backend-team", "role": "client"},
                    {"token": TOKENS["admin"], "identity": "platform", "role": "admin"},
                    {"token": TOKENS["busy"], "identity": "busy-team", "role": "client"},
                    *(
                        {"token": f"{name}-token", "identity": name, "role": "client"}
                        for name in SPENDERS
                    ),
                ]
            }
        )
    )
    audit = work / "audit.jsonl"
    process = ServiceProcess(
        "modelport.router",
        {
            **free_env_module,
            "MODELPORT_DATA_DIR": str(work / "data"),
            "MODELPORT_AUTH_TOKENS_FILE": str(tokens),
            "MODELPORT_AUDIT_LOG": str(audit),
            "MODELPORT_RATE_LIMIT_PER_S": "0.5",
            "MODELPORT_RATE_LIMIT_BURST": "30",
            "MODELPORT_MAX_STREAMS_PER_IDENTITY": "2",
            "MODELPORT_BACKEND_TLS_CA_FILE": str(pki["ca.crt"]),
            "MODELPORT_BACKEND_TLS_CERT_FILE": str(pki["client.crt"]),
            "MODELPORT_BACKEND_TLS_KEY_FILE": str(pki["client.key"]),
            "MODELPORT_STATIC_REPLICAS": json.dumps(
                [{"name": "tiny", "version": "1", "endpoint": f"127.0.0.1:{backend.port}"}]
            ),
        },
        free_port(),
    ).start()
    try:
        process.wait_serving()
        yield process, audit
    finally:
        process.stop()


@pytest.fixture(scope="module")
def free_env_module() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def as_(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def test_tokens_roles_and_open_health(router: tuple[ServiceProcess, Path]) -> None:
    process, audit = router
    with grpc.insecure_channel(process.address) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        admin = registry_pb2_grpc.RegistryServiceStub(channel)
        # the router reaches the mTLS backend with its client certificate
        assert stub.Embed(embed_request(), timeout=10, metadata=as_(TOKENS["client"])).embeddings
        for token in (None, "wrong-token"):

            def anonymous(t: str | None = token) -> object:
                return stub.Embed(embed_request(), timeout=5, metadata=as_(t))

            err = rpc_error(anonymous)
            assert err.code() == grpc.StatusCode.UNAUTHENTICATED
            assert err.details() == "missing or invalid credentials"
        split = registry_pb2.SetTrafficSplitRequest(name="tiny", weights={"1": 1})
        err = rpc_error(
            lambda: admin.SetTrafficSplit(split, timeout=5, metadata=as_(TOKENS["client"]))
        )
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert err.details() == "not allowed"
        admin.SetTrafficSplit(split, timeout=5, metadata=as_(TOKENS["admin"]))
        listing = admin.ListModels(
            registry_pb2.ListModelsRequest(), timeout=5, metadata=as_(TOKENS["client"])
        )
        assert [m.name for m in listing.models] == ["tiny"]
        health = health_pb2_grpc.HealthStub(channel)
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == (
            health_pb2.HealthCheckResponse.SERVING
        )
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert lines[-1] | {"time": ""} == {
        "time": "",
        "kind": "registry",
        "who": "platform",
        "what": "/modelport.v1.RegistryService/SetTrafficSplit",
        "model": "tiny",
        "weights": {"1": 1},
        "outcome": "ok",
        "trace_id": "",
    }
    denied = {(line["who"], line["outcome"]) for line in lines if line["kind"] == "denied"}
    assert {("-", "unauthenticated"), ("backend-team", "permission_denied")} <= denied
    assert all("client-token" not in json.dumps(line) for line in lines)  # no secrets logged


def test_rate_limit_per_identity_with_quota_and_retry_details(
    router: tuple[ServiceProcess, Path],
) -> None:
    process, _ = router
    with grpc.insecure_channel(process.address) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        limited = None
        for _ in range(40):
            try:
                stub.Embed(embed_request(), timeout=10, metadata=as_(TOKENS["busy"]))
            except grpc.RpcError as exc:
                limited = exc
                break
        assert limited is not None, "40 calls at once passed a burst of 30"
        assert isinstance(limited, grpc.Call)
        assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        status = rpc_status.from_call(limited)
        assert status is not None
        quota, retry = error_details_pb2.QuotaFailure(), error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(quota)
        assert status.details[1].Unpack(retry)
        assert quota.violations[0].subject == "identity:busy-team"
        assert retry.retry_delay.ToMilliseconds() > 0
        # another identity is not affected
        assert stub.Embed(embed_request(), timeout=10, metadata=as_(TOKENS["client"])).embeddings
        time.sleep(2.5)  # one token refills every 2 s
        assert stub.Embed(embed_request(), timeout=10, metadata=as_(TOKENS["busy"])).embeddings


def test_a_stream_pays_for_every_message(router: tuple[ServiceProcess, Path]) -> None:
    """M1: one stream cannot carry more messages than the identity's rate limit allows
    (burst 30 here): the stream ends with RESOURCE_EXHAUSTED and RetryInfo."""
    process, _ = router
    with grpc.insecure_channel(process.address) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        answers = stub.EmbedStream(
            iter([embed_request()] * 60), timeout=30, metadata=as_("streamer-token")
        )
        answered, error = drain(answers)
        assert error is not None
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert len(answered) <= 30
        status = rpc_status.from_call(error)
        assert status is not None
        retry = error_details_pb2.RetryInfo()
        assert any(detail.Unpack(retry) for detail in status.details)


def test_a_call_pays_for_every_input(router: tuple[ServiceProcess, Path]) -> None:
    """M1: 31 inputs in one call spend more than the burst of 30: the call goes through
    (a bucket with a token left admits it), the identity's next call waits for the rate."""
    process, _ = router
    with grpc.insecure_channel(process.address) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        bulk = embedding_pb2.EmbedRequest(
            model=common_pb2.ModelRef(name="tiny"), inputs=[f"text {i}" for i in range(31)]
        )
        assert len(stub.Embed(bulk, timeout=10, metadata=as_("bulk-token")).embeddings) == 31
        err = rpc_error(lambda: stub.Embed(embed_request(), timeout=10, metadata=as_("bulk-token")))
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def texts_infer(count: int) -> Any:
    """An Open Inference Protocol ModelInfer of `count` texts (a BYTES tensor [count])."""
    from modelport.oip.v2 import open_inference_pb2 as oip

    text = oip.ModelInferRequest.InferInputTensor(
        name="text",
        datatype="BYTES",
        shape=[count],
        contents=oip.InferTensorContents(bytes_contents=[b"text %d" % i for i in range(count)]),
    )
    return oip.ModelInferRequest(model_name="tiny", inputs=[text])


def test_an_inference_call_pays_for_its_batch(router: tuple[ServiceProcess, Path]) -> None:
    """M1: a ModelInfer of 31 texts spends more than the burst of 30, like a typed call of
    31 inputs: it goes through, the identity's next call waits for the rate."""
    process, _ = router
    with grpc.insecure_channel(process.address) as channel:
        infer = oip_stub(channel).ModelInfer
        answer = infer(texts_infer(31), timeout=10, metadata=as_("oip-bulk-token"))
        assert answer.outputs[0].shape[0] == 31
        err = rpc_error(lambda: infer(texts_infer(1), timeout=10, metadata=as_("oip-bulk-token")))
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_an_inference_stream_pays_for_every_message_and_input(
    router: tuple[ServiceProcess, Path],
) -> None:
    """M1: a ModelStreamInfer of four messages of ten texts each costs 40 units, above the
    burst of 30: its fourth message ends the stream with RESOURCE_EXHAUSTED."""
    process, _ = router
    with grpc.insecure_channel(process.address) as channel:
        answers = oip_stub(channel).ModelStreamInfer(
            iter([texts_infer(10)] * 4), timeout=30, metadata=as_("oip-streamer-token")
        )
        answered, error = drain(answers)
        assert error is not None
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert len(answered) <= 3
        assert all(not answer.error_message for answer in answered)


def test_streams_per_identity_are_capped(router: tuple[ServiceProcess, Path]) -> None:
    """M1: MODELPORT_MAX_STREAMS_PER_IDENTITY=2: a third concurrent stream of one identity
    is refused; another identity is not affected; a closed stream frees its place."""
    process, _ = router
    watch = registry_pb2.WatchModelsRequest(name="tiny")
    with grpc.insecure_channel(process.address) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        opened = [stub.WatchModels(watch, timeout=30, metadata=as_("watcher-token")) for _ in "ab"]
        for stream in opened:
            assert first(stream).model.name == "tiny"  # the stream is open on the router
        third = stub.WatchModels(watch, timeout=30, metadata=as_("watcher-token"))
        err = rpc_error(lambda: first(third))
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        other = stub.WatchModels(watch, timeout=30, metadata=as_(TOKENS["client"]))
        assert first(other).model.name == "tiny"
        other.cancel()  # type: ignore[no-untyped-call]
        opened[0].cancel()  # type: ignore[no-untyped-call]

        def reopened() -> bool:
            again = stub.WatchModels(watch, timeout=30, metadata=as_("watcher-token"))
            try:
                first(again)
            except grpc.RpcError:
                return False
            again.cancel()  # type: ignore[no-untyped-call]
            return True

        from tests.cluster import wait_for

        wait_for(reopened, "a stream's place is freed when it closes")
        opened[1].cancel()  # type: ignore[no-untyped-call]


def test_plaintext_health_port_for_probes_beside_tls(backend: InferenceServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{backend.health_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        err = rpc_error(lambda: stub.Embed(embed_request(), timeout=5))
        assert err.code() == grpc.StatusCode.UNIMPLEMENTED  # only health lives there


# -- the Python client and the command line against secured servers -----------------------
@pytest.fixture(scope="module")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tokens") / "tokens.yaml"
    path.write_text(
        yaml.safe_dump(
            {"tokens": [{"token": TOKENS["client"], "identity": "app", "role": "client"}]}
        )
    )
    return path


@pytest.fixture(scope="module", params=["tls", "mtls"])
def secured(
    request: pytest.FixtureRequest, pki: dict[str, Path], tokens_file: Path, tiny_bert_dir: Path
) -> Iterator[tuple[str, bool]]:
    """(address, client certificate needed) of an embedding backend with TLS and bearer
    tokens, and with mTLS on top in the "mtls" case."""
    mutual = request.param == "mtls"
    settings = loopback_settings(
        EmbeddingSettings,
        tls_cert_file=pki["server.crt"],
        tls_key_file=pki["server.key"],
        tls_client_ca_file=pki["ca.crt"] if mutual else None,
        auth_tokens_file=tokens_file,
    )
    models = [ModelSpec(name="tiny", runtime="sentence-embedding", path=tiny_bert_dir)]
    with running_server(build, settings, models) as server:
        yield f"127.0.0.1:{server.port}", mutual


def secure_client(
    pki: dict[str, Path],
    target: str,
    *,
    ca: str = "ca",
    client: str | None = "client",
    token: str | None = TOKENS["client"],
    **options: Any,
) -> ModelportClient:
    return ModelportClient(
        target,
        timeout_s=10,
        root_certificates=pki[f"{ca}.crt"],
        certificate_chain=pki[f"{client}.crt"] if client else None,
        private_key=pki[f"{client}.key"] if client else None,
        token=token,
        **options,
    )


def first(stream: Any) -> Any:
    """The first message of a response stream (raises the call's error)."""
    return next(iter(stream))


def drain(answers: Any) -> tuple[list[Any], grpc.Call | None]:
    """The messages of a response stream, and the error that ended it (None: it ended OK)."""
    received = []
    try:
        for answer in answers:
            received.append(answer)
    except grpc.RpcError as error:
        if not isinstance(error, grpc.Call):
            raise
        return received, error
    return received, None


def client_error(call: Callable[[], object]) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    return info.value


def test_client_reaches_a_tls_server_with_its_token_and_certificate(
    pki: dict[str, Path], secured: tuple[str, bool]
) -> None:
    target, _ = secured
    with secure_client(pki, target) as client:
        assert len(client.embed(["secure"], model="tiny").vectors) == 1
        assert [m.name for m in client.list_models().models] == ["tiny"]


def test_client_without_the_right_credentials_gets_a_clear_error(
    pki: dict[str, Path], secured: tuple[str, bool]
) -> None:
    target, mutual = secured
    for token in (None, "wrong-token"):
        with secure_client(pki, target, token=token) as client:
            error = client_error(partial(client.embed, ["x"], model="tiny"))
            assert error.code == grpc.StatusCode.UNAUTHENTICATED
            assert error.message == "missing or invalid credentials"
    refused = [secure_client(pki, target, ca="rogue")]  # a server we cannot verify
    refused.append(ModelportClient(target, timeout_s=10))  # plaintext to a TLS port
    if mutual:  # no client certificate, or one from another CA
        refused += [secure_client(pki, target, client=None)]
        refused += [secure_client(pki, target, client="rogue")]
    for client in refused:
        with client:
            error = client_error(partial(client.embed, ["x"], model="tiny"))
            assert error.code == grpc.StatusCode.UNAVAILABLE


def test_client_channel_options_apply(pki: dict[str, Path], secured: tuple[str, bool]) -> None:
    target, _ = secured
    small = [("grpc.max_receive_message_length", 64)]
    with secure_client(pki, target, options=small) as client:
        error = client_error(lambda: client.embed(["secure"], model="tiny"))
        assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_client_sends_a_token_in_plaintext_only_when_allowed(
    router: tuple[ServiceProcess, Path],
) -> None:
    process, audit = router
    with pytest.raises(ValueError, match="plaintext"):
        ModelportClient(process.address, token=TOKENS["client"])
    with ModelportClient(
        process.address, token=TOKENS["client"], allow_insecure_token=True
    ) as client:
        assert client.embed(["local"], model="tiny").model == "tiny"
        assert [m.name for m in client.wait_for_models(["tiny"]).models] == ["tiny"]
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    traced = [("traceparent", f"00-{trace_id}-b7ad6b7169203331-01")]
    with ModelportClient(
        process.address, token="wrong-token", allow_insecure_token=True, metadata=traced
    ) as client:
        assert client_error(lambda: client.list_models()).code == grpc.StatusCode.UNAUTHENTICATED
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert any(line["trace_id"] == trace_id for line in lines)  # the extra metadata arrived


def test_cli_with_tls_flags_and_token_from_the_environment(
    pki: dict[str, Path],
    secured: tuple[str, bool],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from modelport.cli import main

    target, _ = secured
    command = [
        "embed",
        "--target",
        target,
        "--model",
        "tiny",
        "--json",
        "--tls-ca",
        str(pki["ca.crt"]),
        "--tls-cert",
        str(pki["client.crt"]),
        "--tls-key",
        str(pki["client.key"]),
        "hello",
    ]
    monkeypatch.delenv("MODELPORT_TOKEN", raising=False)
    assert main(command) == 1  # the server answered with an error
    assert "UNAUTHENTICATED" in capsys.readouterr().err
    monkeypatch.setenv("MODELPORT_TOKEN", TOKENS["client"])
    assert main(command) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "tiny"


# -- zero trust between router and backends (issue 21) -------------------------------------
ROUTER_TOKEN = "router-service-token"
DIRECT_TOKEN = "direct-client-token"


def oip_stub(channel: Any) -> Any:
    from modelport.oip.v2 import open_inference_pb2_grpc

    return open_inference_pb2_grpc.GRPCInferenceServiceStub(channel)


def tokens_yaml(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"tokens": list(entries)}))
    return path


@pytest.fixture(scope="module")
def router_token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("router-token") / "token"
    path.write_text(ROUTER_TOKEN + "\n")
    return path


@pytest.fixture(scope="module")
def guarded_backend(
    router_token_file: Path, tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InferenceServer]:
    """A plaintext embedding backend as the chart deploys it: it knows the router's token
    (role router) and one client token of its own; it serves `tiny` and `hidden`."""
    tokens = tokens_yaml(
        tmp_path_factory.mktemp("backend-tokens") / "tokens.yaml",
        {"token": DIRECT_TOKEN, "identity": "direct-team", "role": "client"},
    )
    settings = loopback_settings(
        EmbeddingSettings, auth_tokens_file=tokens, auth_router_token_file=router_token_file
    )
    models = [
        ModelSpec(name=name, runtime="sentence-embedding", path=tiny_bert_dir)
        for name in ("tiny", "hidden")
    ]
    with running_server(build, settings, models) as server:
        yield server


def router_to(
    env: dict[str, str], work: Path, tokens: Path, router_token: Path, model: str, endpoint: str
) -> ServiceProcess:
    """A started router with client `tokens` and the router's token for backends, that
    routes `model` (version 1) to the backend at `endpoint`."""
    return ServiceProcess(
        "modelport.router",
        {
            **env,
            "MODELPORT_DATA_DIR": str(work / "data"),
            "MODELPORT_AUTH_TOKENS_FILE": str(tokens),
            "MODELPORT_BACKEND_TOKEN_FILE": str(router_token),
            "MODELPORT_STATIC_REPLICAS": json.dumps(
                [{"name": model, "version": "1", "endpoint": endpoint}]
            ),
        },
        free_port(),
    ).start()


@pytest.fixture(scope="module")
def guarded_router(
    guarded_backend: InferenceServer,
    router_token_file: Path,
    free_env_module: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    """A router that routes only `tiny` to the guarded backend, with its router token."""
    work = tmp_path_factory.mktemp("guarded-router")
    tokens = tokens_yaml(
        work / "tokens.yaml",
        {"token": TOKENS["client"], "identity": "backend-team", "role": "client"},
        {"token": TOKENS["admin"], "identity": "platform", "role": "admin"},
    )
    process = router_to(
        free_env_module,
        work,
        tokens,
        router_token_file,
        "tiny",
        f"127.0.0.1:{guarded_backend.port}",
    )
    try:
        process.wait_serving()
        yield process
    finally:
        process.stop()


def test_backend_refuses_calls_without_the_router_credential_and_the_router_has_it(
    guarded_backend: InferenceServer, guarded_router: ServiceProcess
) -> None:
    """H1: straight to a backend's port, nobody but the router (and the backend's own
    client tokens, for inference only) gets in; through the router, everything works."""
    from modelport.oip.v2 import open_inference_pb2 as oip

    unload = oip.RepositoryModelUnloadRequest(model_name="tiny")
    with grpc.insecure_channel(f"127.0.0.1:{guarded_backend.port}") as channel:
        direct_oip, direct = oip_stub(channel), embedding_pb2_grpc.EmbeddingServiceStub(channel)
        for token in (None, "wrong-token", TOKENS["client"], TOKENS["admin"]):
            for call in (
                partial(direct_oip.RepositoryModelUnload, unload),
                partial(
                    direct_oip.RepositoryModelLoad,
                    oip.RepositoryModelLoadRequest(model_name="tiny"),
                ),
                partial(direct.Embed, embed_request()),
                partial(direct_oip.RepositoryIndex, oip.RepositoryIndexRequest()),
            ):
                err = rpc_error(partial(call, timeout=10, metadata=as_(token)))
                assert err.code() == grpc.StatusCode.UNAUTHENTICATED, (token, call)
        # the backend's own client token may infer, never load or unload
        assert direct.Embed(embed_request(), timeout=10, metadata=as_(DIRECT_TOKEN)).embeddings
        err = rpc_error(
            lambda: direct_oip.RepositoryModelUnload(unload, timeout=10, metadata=as_(DIRECT_TOKEN))
        )
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    with grpc.insecure_channel(guarded_router.address) as channel:
        routed_oip, routed = oip_stub(channel), embedding_pb2_grpc.EmbeddingServiceStub(channel)
        admin, client = as_(TOKENS["admin"]), as_(TOKENS["client"])
        assert routed.Embed(embed_request(), timeout=10, metadata=client).embeddings
        index = routed_oip.RepositoryIndex(oip.RepositoryIndexRequest(), timeout=10, metadata=admin)
        assert ("tiny", "READY") in {(m.name, m.state) for m in index.models}
        stats = routed_oip.ModelStatistics(
            oip.ModelStatisticsRequest(name="tiny"), timeout=10, metadata=admin
        )
        assert stats.model_stats
        assert stats.model_stats[0].inference_count >= 1
        routed_oip.RepositoryModelUnload(unload, timeout=60, metadata=admin)
        routed_oip.RepositoryModelLoad(
            oip.RepositoryModelLoadRequest(model_name="tiny"), timeout=120, metadata=admin
        )
        assert routed.Embed(embed_request(), timeout=10, metadata=client).embeddings


def test_a_stream_cannot_reach_a_model_the_router_does_not_route(
    guarded_router: ServiceProcess,
) -> None:
    """L1: every message of a stream names the model of its first, which the router
    routes; `hidden` is served by the backend but not routed."""
    with grpc.insecure_channel(guarded_router.address) as channel:
        stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        answers = stub.EmbedStream(
            iter([embed_request("tiny"), embed_request("hidden")]),
            timeout=10,
            metadata=as_(TOKENS["client"]),
        )
        received, error = drain(answers)
        assert [answer.model.name for answer in received] in ([], ["tiny"])
        assert error is not None
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


UNROUTED = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE)


def smuggled(routed: str, reached: str) -> bytes:
    """An Embed request whose first ModelRef names `routed` and whose second (after an
    unknown group, which protobuf steps over) names `reached`: protobuf merges the two, so
    the replica reads `reached`. The router used to read only up to the group."""
    group = 99 << 3
    skipped = bytes([(group | 3) & 0x7F | 0x80, group >> 7, 0x08, 0x01])
    skipped += bytes([(group | 4) & 0x7F | 0x80, group >> 7])
    return (
        embed_request(routed).SerializeToString()
        + skipped
        + embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=reached)).SerializeToString()
    )


def test_the_router_routes_on_the_model_the_replica_reads(guarded_router: ServiceProcess) -> None:
    """L1: a request that repeats its ModelRef (after an unknown group, or with a version
    the second one does not name) is routed on the ModelRef protobuf merges, which the
    replica reads: `hidden`, which the router does not route, stays out of reach, by a
    call or by a stream; bytes protobuf would refuse are INVALID_ARGUMENT at the router."""
    client = as_(TOKENS["client"])
    with grpc.insecure_channel(guarded_router.address) as channel:
        embed = channel.unary_unary("/modelport.v1.EmbeddingService/Embed", None, None)
        stream = channel.stream_stream("/modelport.v1.EmbeddingService/EmbedStream", None, None)
        err = rpc_error(lambda: embed(smuggled("tiny", "hidden"), timeout=10, metadata=client))
        assert err.code() in UNROUTED, err.details()  # UNAVAILABLE in the router's first lease
        assert "model 'hidden' is not registered" in (err.details() or "")
        answers = stream(iter([smuggled("tiny", "hidden")]), timeout=10, metadata=client)
        received, error = drain(answers)
        assert received == []
        assert error is not None
        assert error.code() in UNROUTED
        answers = stream(
            iter([embed_request("tiny").SerializeToString(), smuggled("tiny", "hidden")]),
            timeout=10,
            metadata=client,
        )
        received, error = drain(answers)
        assert [embedding_pb2.EmbedResponse.FromString(r).model.name for r in received] in (
            [],
            ["tiny"],
        )
        assert error is not None
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        # a ModelRef with version 2, then one without: the replica would read version 2
        pinned = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="tiny", version="2"))
        merged = pinned.SerializeToString() + embed_request("tiny").SerializeToString()
        err = rpc_error(lambda: embed(merged, timeout=10, metadata=client))
        assert err.code() == grpc.StatusCode.NOT_FOUND
        assert "has no version '2'" in (err.details() or "")
        truncated = embed_request("tiny").SerializeToString()[:-1]
        err = rpc_error(lambda: embed(truncated, timeout=10, metadata=client))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.details() == "request: is not a valid protobuf message"


def test_a_replica_never_sees_a_callers_credentials(
    router_token_file: Path, free_env_module: dict[str, str], tmp_path: Path
) -> None:
    """H2: the router strips the caller's `authorization` (and other credential headers)
    and calls the replica with its own credential. It tells the replica whose work the
    call is (`x-modelport-caller`, the caller's identity): a caller claiming another
    identity there is not believed."""
    replica = RecordingReplica()
    tokens = tokens_yaml(
        tmp_path / "tokens.yaml",
        {"token": TOKENS["client"], "identity": "backend-team", "role": "client"},
    )
    router = ServiceProcess(
        "modelport.router",
        {
            **free_env_module,
            "MODELPORT_DATA_DIR": str(tmp_path / "data"),
            "MODELPORT_AUTH_TOKENS_FILE": str(tokens),
            "MODELPORT_BACKEND_TOKEN_FILE": str(router_token_file),
            "MODELPORT_STATIC_REPLICAS": json.dumps(
                [{"name": "tiny", "version": "1", "endpoint": replica.address}]
            ),
        },
        free_port(),
    ).start()
    try:
        router.wait_serving()
        sent = (
            *as_(TOKENS["client"]),
            ("x-api-key", "api-key-secret"),
            ("cookie", "s=secret"),
            ("x-modelport-caller", "id:someone-else"),
        )
        with grpc.insecure_channel(router.address) as channel:
            stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            stub.Embed(embed_request(), timeout=10, metadata=sent)
            list(stub.EmbedStream(iter([embed_request()] * 2), timeout=10, metadata=sent))
    finally:
        router.stop()
        replica.server.stop(0)
    assert len(replica.metadata) == 2
    for received in replica.metadata:
        text = json.dumps({k: str(v) for k, v in received.items()})
        for secret in (TOKENS["client"], "api-key-secret", "s=secret"):
            assert secret not in text, received
        assert received["authorization"] == f"Bearer {ROUTER_TOKEN}"
        assert received["x-modelport-caller"] == "id:backend-team"


async def test_every_message_of_a_stream_is_routed_by_the_registry(tmp_path: Path) -> None:
    """L1: a stream whose model is deregistered (or whose replica stops serving it) after
    its first message reaches the replica no more: its next message ends the stream with
    NOT_FOUND (UNAVAILABLE while another replica still serves the model)."""
    replica, other = RecordingReplica(), RecordingReplica()
    router = await start_router(
        tmp_path,
        grace_period_s=5,  # a dropped replica's channel stays for calls in flight
        lease_ttl_s=0.01,  # past the first lease at once: unknown models are NOT_FOUND
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{router.port}")
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    embed = embedding_pb2_grpc.EmbeddingServiceStub(channel)
    ref = common_pb2.ModelRef(name="m", version="1")

    async def register(endpoint: str) -> None:
        await registry.RegisterModel(
            registry_pb2.RegisterModelRequest(
                model=ref,
                task=common_pb2.TASK_EMBEDDING,
                endpoint=endpoint,
                state=common_pb2.MODEL_STATE_READY,
                persistent=True,
            )
        )

    async def deregister(endpoint: str) -> None:
        await registry.DeregisterModel(
            registry_pb2.DeregisterModelRequest(model=ref, endpoint=endpoint)
        )

    async def stream_across(change: Callable[[], Any]) -> tuple[int, grpc.StatusCode]:
        """Messages answered, and the status of a stream whose second message is sent
        after `change`."""
        changed = asyncio.Event()

        async def requests() -> AsyncIterator[embedding_pb2.EmbedRequest]:
            yield embedding_pb2.EmbedRequest(model=ref, inputs=["a"])
            await changed.wait()
            yield embedding_pb2.EmbedRequest(model=ref, inputs=["b"])
            # no half-close: a write after the router ended the call would make the aio
            # client report a local error instead of the router's status (grpc#36066)
            await asyncio.Event().wait()

        call = embed.EmbedStream(requests())
        answered = [await call.read()]
        await change()
        changed.set()
        try:
            while (answer := await call.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
                answered.append(answer)
        except grpc.aio.AioRpcError:
            pass
        return len(answered), await call.code()

    try:
        await register(replica.address)
        assert await stream_across(lambda: deregister(replica.address)) == (
            1,
            grpc.StatusCode.NOT_FOUND,
        )
        assert len(replica.streamed) == 1
        await register(replica.address)
        await register(other.address)
        before = len(replica.streamed), len(other.streamed)

        async def move() -> None:
            # the replica the stream went to (the one that got its first message) stops
            # serving the model; the other still does
            went = replica if len(replica.streamed) > before[0] else other
            await deregister(went.address)

        answered, status = await stream_across(move)
        assert (answered, status) == (1, grpc.StatusCode.UNAVAILABLE)
        assert len(replica.streamed) + len(other.streamed) == sum(before) + 1
    finally:
        await channel.close(None)
        await router.stop(grace=0)
        replica.server.stop(0)
        other.server.stop(0)


async def test_a_registrar_registers_only_its_own_endpoint_and_endpoints_are_host_port(
    tmp_path: Path,
) -> None:
    """H2: a `registrar` token is bound to endpoints (or to the host it calls from); it may
    register, renew and deregister only there, with a lease; never split traffic, touch
    other replicas, load, unload or infer. Endpoints are `host:port`, nothing else. Audit
    lines say what changed; renewals are no admin actions."""
    from modelport.oip.v2 import open_inference_pb2 as oip

    tokens = tokens_yaml(
        tmp_path / "tokens.yaml",
        {"token": TOKENS["admin"], "identity": "platform", "role": "admin"},
        {
            "token": "registrar-a",
            "identity": "embed-a",
            "role": "registrar",
            "endpoints": ["127.0.0.1:7001"],
        },
        {
            "token": "registrar-b",
            "identity": "embed-b",
            "role": "registrar",
            "endpoints": ["10.9.0.0/16"],
        },
        {"token": "registrar-local", "identity": "local", "role": "registrar", "same_host": True},
    )
    audit = tmp_path / "audit.jsonl"
    router = await start_router(tmp_path, auth_tokens_file=tokens, audit_log=str(audit))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{router.port}")
    registry = registry_pb2_grpc.RegistryServiceStub(channel)

    def register(endpoint: str, persistent: bool = False) -> registry_pb2.RegisterModelRequest:
        return registry_pb2.RegisterModelRequest(
            model=common_pb2.ModelRef(name="m2", version="1"),
            task=common_pb2.TASK_EMBEDDING,
            endpoint=endpoint,
            persistent=persistent,
        )

    a, b, local, admin = (
        as_("registrar-a"),
        as_("registrar-b"),
        as_("registrar-local"),
        as_(TOKENS["admin"]),
    )
    denied = grpc.StatusCode.PERMISSION_DENIED
    try:
        granted = await registry.RegisterModel(register("127.0.0.1:7001"), metadata=a)
        assert granted.lease_id
        assert await code(registry.RegisterModel(register("127.0.0.1:7002"), metadata=a)) == denied
        assert (
            await code(registry.RegisterModel(register("127.0.0.1:7001", True), metadata=a))
            == denied
        )
        assert (
            await code(registry.RegisterModel(register("10.9.3.4:50051"), metadata=b))
            == grpc.StatusCode.OK
        )
        assert await code(registry.RegisterModel(register("10.8.3.4:50051"), metadata=b)) == denied
        assert (
            await code(registry.RegisterModel(register("127.0.0.1:7004"), metadata=local))
            == grpc.StatusCode.OK
        )
        assert (
            await code(registry.RegisterModel(register("127.0.0.2:7004"), metadata=local)) == denied
        )
        await registry.RegisterModel(register("127.0.0.1:7002", True), metadata=admin)
        other = registry_pb2.DeregisterModelRequest(
            model=common_pb2.ModelRef(name="m2", version="1"), endpoint="127.0.0.1:7002"
        )
        assert await code(registry.DeregisterModel(other, metadata=a)) == denied
        split = registry_pb2.SetTrafficSplitRequest(name="m2", weights={"1": 1})
        assert await code(registry.SetTrafficSplit(split, metadata=a)) == denied
        renewed = await registry.RenewLease(
            registry_pb2.RenewLeaseRequest(lease_ids=[granted.lease_id]), metadata=b
        )
        assert list(renewed.unknown_lease_ids) == [granted.lease_id]  # not b's lease
        renewed = await registry.RenewLease(
            registry_pb2.RenewLeaseRequest(lease_ids=[granted.lease_id]), metadata=a
        )
        assert not renewed.unknown_lease_ids
        unload = oip.RepositoryModelUnloadRequest(model_name="m2")
        assert await code(oip_stub(channel).RepositoryModelUnload(unload, metadata=a)) == denied
        embed = embedding_pb2_grpc.EmbeddingServiceStub(channel).Embed(
            embed_request("m2"), metadata=a
        )
        assert await code(embed) == denied
        for bad in (
            "unix:/tmp/evil.sock",
            "unix:50051",
            "dns:///127.0.0.1:1",
            "127.0.0.1",
            "h:0",
            "a b:1",
        ):
            assert await code(registry.RegisterModel(register(bad, True), metadata=admin)) == (
                grpc.StatusCode.INVALID_ARGUMENT
            ), bad
        mine = registry_pb2.DeregisterModelRequest(
            model=common_pb2.ModelRef(name="m2", version="1"), endpoint="127.0.0.1:7001"
        )
        await registry.DeregisterModel(mine, metadata=a)
        endpoints = {r.endpoint for r in router.registry.registrations()}
        assert endpoints == {"127.0.0.1:7002", "10.9.3.4:50051", "127.0.0.1:7004"}
    finally:
        await channel.close(None)
        await router.stop(grace=0)
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    changes = [line for line in lines if line["kind"] == "registry"]
    assert {
        "who": "embed-a",
        "what": "/modelport.v1.RegistryService/RegisterModel",
        "endpoint": "127.0.0.1:7001",
        "model": "m2",
        "version": "1",
        "outcome": "ok",
    }.items() <= changes[0].items()
    assert any(
        line["what"].endswith("/DeregisterModel") and line["endpoint"] == "127.0.0.1:7001"
        for line in changes
    )
    assert not [
        line for line in lines if line["what"].endswith("/RenewLease") and line["kind"] == "admin"
    ]
    refused = [line for line in changes if line["outcome"] == "permission_denied"]
    assert {(line["who"], line["endpoint"]) for line in refused} >= {
        ("embed-a", "127.0.0.1:7002"),
        ("local", "127.0.0.2:7004"),
    }


def test_unauthenticated_callers_cannot_flood_the_audit_log(
    free_env_module: dict[str, str], tmp_path: Path
) -> None:
    """M2: denied-call lines are rate-limited per source and counted beyond it; a
    `traceparent` that is not W3C never reaches the log; admin actions are always written."""
    tokens = tokens_yaml(
        tmp_path / "tokens.yaml",
        {"token": TOKENS["admin"], "identity": "platform", "role": "admin"},
    )
    audit = tmp_path / "audit.jsonl"
    router = ServiceProcess(
        "modelport.router",
        {
            **free_env_module,
            "MODELPORT_DATA_DIR": str(tmp_path / "data"),
            "MODELPORT_AUTH_TOKENS_FILE": str(tokens),
            "MODELPORT_AUDIT_LOG": str(audit),
        },
        free_port(),
    ).start()
    try:
        router.wait_serving()
        huge = "00-" + "A" * 7900 + "-b7ad6b7169203331-01"
        injected = '00-injected","who":"platform","outcome":"allowed-b7ad6b7169203331-01'
        with grpc.insecure_channel(router.address) as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            for i in range(300):
                trace = huge if i % 2 else injected
                with pytest.raises(grpc.RpcError):
                    stub.ListModels(
                        registry_pb2.ListModelsRequest(),
                        timeout=5,
                        metadata=(("traceparent", trace),),
                    )
            split = registry_pb2.SetTrafficSplitRequest(name="tiny", weights={})
            stub.SetTrafficSplit(split, timeout=5, metadata=as_(TOKENS["admin"]))
    finally:
        router.stop()
    text = audit.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    denied = [line for line in lines if line["kind"] == "denied"]
    assert 1 <= len(denied) <= 30, len(denied)
    assert len(text) < 20_000
    assert all(line.get("trace_id", "") == "" for line in lines)
    assert any(
        line["what"].endswith("/SetTrafficSplit") and line["who"] == "platform" for line in lines
    )


class OipReplica:
    """A replica stand-in serving RepositoryIndex and RepositoryModelLoad (refused with
    PERMISSION_DENIED when `refuse`), recording the methods called."""

    def __init__(self, refuse: bool = False) -> None:
        from modelport.oip.v2 import open_inference_pb2 as oip

        self.called: list[str] = []
        self.server = grpc.aio.server()

        async def index(request: Any, context: Any) -> Any:
            self.called.append("RepositoryIndex")
            return oip.RepositoryIndexResponse(
                models=[oip.RepositoryIndexResponse.ModelIndex(name="m", state="READY")]
            )

        async def load(request: Any, context: Any) -> Any:
            self.called.append("RepositoryModelLoad")
            if refuse:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not allowed")
            return oip.RepositoryModelLoadResponse()

        def handler(behaviour: Any, request: Any, response: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                behaviour,
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )

        handlers = {
            "RepositoryIndex": handler(
                index, oip.RepositoryIndexRequest, oip.RepositoryIndexResponse
            ),
            "RepositoryModelLoad": handler(
                load, oip.RepositoryModelLoadRequest, oip.RepositoryModelLoadResponse
            ),
        }
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("inference.GRPCInferenceService", handlers),)
        )
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"


async def test_loads_report_each_replica_removed_ones_are_not_asked_clients_see_no_addresses(
    tmp_path: Path,
) -> None:
    """L3: a load that one replica refuses is an error naming it; L2: a replica an admin
    removed is not asked again; L6: clients see neither replica addresses nor failure
    reasons (admins do)."""
    from modelport.oip.v2 import open_inference_pb2 as oip

    tokens = tokens_yaml(
        tmp_path / "tokens.yaml",
        {"token": TOKENS["admin"], "identity": "platform", "role": "admin"},
        {"token": TOKENS["client"], "identity": "app", "role": "client"},
    )
    willing, refusing = OipReplica(), OipReplica(refuse=True)
    for replica in (willing, refusing):
        await replica.server.start()
    router = await start_router(tmp_path, auth_tokens_file=tokens)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{router.port}")
    registry, inference = registry_pb2_grpc.RegistryServiceStub(channel), oip_stub(channel)
    admin, client = as_(TOKENS["admin"]), as_(TOKENS["client"])
    try:
        for replica in (willing, refusing):
            await registry.RegisterModel(
                registry_pb2.RegisterModelRequest(
                    model=common_pb2.ModelRef(name="m", version="1"),
                    task=common_pb2.TASK_EMBEDDING,
                    endpoint=replica.address,
                    persistent=True,
                ),
                metadata=admin,
            )
        await registry.RegisterModel(
            registry_pb2.RegisterModelRequest(
                model=common_pb2.ModelRef(name="broken", version="1"),
                task=common_pb2.TASK_EMBEDDING,
                endpoint="10.0.0.9:50051",
                state=common_pb2.MODEL_STATE_FAILED,
                reason="OSError: no such folder /srv/secret-team/models/internal-v7",
            ),
            metadata=admin,
        )
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await inference.RepositoryModelLoad(
                oip.RepositoryModelLoadRequest(model_name="m"), metadata=admin
            )
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert refusing.address in (info.value.details() or "")
        assert willing.address not in (info.value.details() or "")
        assert willing.called == refusing.called == ["RepositoryModelLoad"]

        seen = await registry.ListModels(registry_pb2.ListModelsRequest(), metadata=client)
        replicas = [r for m in seen.models for v in m.versions for r in v.replicas]
        assert len(replicas) == 3
        assert {r.endpoint for r in replicas} == {""}
        assert "secret" not in str(seen)
        assert "10.0.0.9" not in str(seen)
        full = await registry.ListModels(registry_pb2.ListModelsRequest(), metadata=admin)
        assert refusing.address in str(full)
        assert "/srv/secret-team" in str(full)
        # a call for the model that failed everywhere: the client is told it failed, not
        # the server's path; an admin is told why
        embed = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        broken = embed_request("broken")
        for who, shown in ((client, False), (admin, True)):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await embed.Embed(broken, metadata=who)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            assert ("/srv/secret-team" in (info.value.details() or "")) is shown

        await registry.DeregisterModel(
            registry_pb2.DeregisterModelRequest(
                model=common_pb2.ModelRef(name="m", version="1"), endpoint=refusing.address
            ),
            metadata=admin,
        )
        index = await inference.RepositoryIndex(oip.RepositoryIndexRequest(), metadata=client)
        assert [m.name for m in index.models] == ["m"]
        assert willing.called[-1] == "RepositoryIndex"
        assert refusing.called == ["RepositoryModelLoad"]  # removed: not asked again
    finally:
        await channel.close(None)
        await router.stop(grace=0)
        for replica in (willing, refusing):
            await replica.server.stop(0)


async def test_a_router_can_take_no_registrations_or_only_allowed_endpoints(
    tmp_path: Path,
) -> None:
    """H2: `allow_registration=false` (the chart's default: discovery only) refuses every
    registration; `endpoint_allow_list` refuses endpoints outside it, whoever asks."""
    from modelport.router.__main__ import RouterServer
    from modelport.router.settings import RouterSettings

    def request(endpoint: str) -> registry_pb2.RegisterModelRequest:
        return registry_pb2.RegisterModelRequest(
            model=common_pb2.ModelRef(name="m", version="1"),
            task=common_pb2.TASK_EMBEDDING,
            endpoint=endpoint,
        )

    for overrides, allowed in (
        ({"allow_registration": False}, set()),
        ({"endpoint_allow_list": ["10.1.0.0/16", "embed.svc"]}, {"10.1.2.3:1", "embed.svc:2"}),
    ):
        router = RouterServer(
            RouterSettings(
                host="127.0.0.1",
                port=0,
                metrics_port=-1,
                data_dir=tmp_path / str(len(allowed)),
                grace_period_s=0,
                **overrides,
            )
        )
        await router.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{router.port}") as channel:
                stub = registry_pb2_grpc.RegistryServiceStub(channel)
                for endpoint in ("10.1.2.3:1", "embed.svc:2", "10.2.0.1:1", "other.svc:2"):
                    code = grpc.StatusCode.OK
                    try:
                        await stub.RegisterModel(request(endpoint), timeout=5)
                    except grpc.aio.AioRpcError as error:
                        code = error.code()
                    assert code == (
                        grpc.StatusCode.OK
                        if endpoint in allowed
                        else grpc.StatusCode.PERMISSION_DENIED
                    ), endpoint
            assert {r.endpoint for r in router.registry.registrations()} == allowed
        finally:
            await router.stop(grace=0)


def test_a_backend_serving_tls_never_sends_its_registration_token_in_plaintext(
    pki: dict[str, Path],
) -> None:
    """L8: with TLS for its own clients, a backend refuses to start if its router token
    would go to the router unencrypted."""
    from pydantic import ValidationError

    tls = {"tls_cert_file": pki["server.crt"], "tls_key_file": pki["server.key"]}
    with pytest.raises(ValidationError, match="plaintext"):
        loopback_settings(
            EmbeddingSettings, router_address="127.0.0.1:1", router_token="registrar-token", **tls
        )
    token_file = pki["ca.crt"].parent / "registrar-token"
    token_file.write_text("registrar-token\n")
    with pytest.raises(ValidationError, match="plaintext"):  # read from a file: the same
        loopback_settings(
            EmbeddingSettings, router_address="127.0.0.1:1", router_token_file=token_file, **tls
        )
    settings = loopback_settings(
        EmbeddingSettings,
        router_address="127.0.0.1:1",
        router_token_file=token_file,
        router_tls_ca_file=pki["ca.crt"],
        **tls,
    )
    assert settings.router_token == "registrar-token"
    with pytest.raises(ValidationError, match="not both"):
        loopback_settings(EmbeddingSettings, router_token="t", router_token_file=token_file)


def test_one_identitys_many_calls_do_not_crowd_out_anothers_through_the_router(
    router_token_file: Path,
    minilm_dir: Path,
    free_env_module: dict[str, str],
    tmp_path: Path,
) -> None:
    """M3, per identity: alice's eight concurrent calls of long texts and bob's one call
    of four, through the router to a backend that trusts the router's token. The backend
    queues work by the identity the router forwards, so batches alternate between alice
    and bob: bob's four inputs ride in two batches beside two of alice's each. (Queued per
    call, bob had one turn in nine; queued as the router, the same.) Read from the
    batches the model ran, not from times."""
    from modelport.embedding.model import SentenceEmbeddingModel
    from modelport.inference.settings import BatchingSettings
    from modelport.inference.text import Truncation

    settings = loopback_settings(EmbeddingSettings, auth_router_token_file=router_token_file)
    batching = BatchingSettings(max_batch_size=4, adaptive=False, max_batch_tokens=0)
    models = [
        ModelSpec(name="minilm", runtime="sentence-embedding", path=minilm_dir, batching=batching)
    ]
    tokens = tokens_yaml(
        tmp_path / "tokens.yaml",
        {"token": "alice-token", "identity": "alice", "role": "client"},
        {"token": "bob-token", "identity": "bob", "role": "client"},
    )
    long_text = "serving models over grpc keeps latency low while batching raises throughput " * 4
    bob_texts = [f"bob asks question number {i}" for i in range(4)]
    ran: list[list[tuple[int, ...]]] = []
    with running_server(build, settings, models) as backend:
        managed = backend.repository.get("minilm")
        batcher = managed.batcher
        predict = batcher._predict

        def recording(batch: Any) -> Any:  # the real model, its batches written down
            ran.append([tuple(item.ids) for item in batch])
            return predict(batch)

        batcher._predict = recording
        model = managed.model
        assert isinstance(model, SentenceEmbeddingModel)
        bob_ids = {tuple(ids) for ids in model.tokenize(bob_texts, Truncation.END)}
        router = router_to(
            free_env_module,
            tmp_path,
            tokens,
            router_token_file,
            "minilm",
            f"127.0.0.1:{backend.port}",
        )
        try:
            router.wait_serving()
            with grpc.insecure_channel(router.address) as channel:
                stub = embedding_pb2_grpc.EmbeddingServiceStub(channel)

                def request(inputs: list[str]) -> embedding_pb2.EmbedRequest:
                    return embedding_pb2.EmbedRequest(
                        model=common_pb2.ModelRef(name="minilm"), inputs=inputs
                    )

                alice = [
                    stub.Embed.future(
                        request([f"{i} {long_text}"] * 16), timeout=300, metadata=as_("alice-token")
                    )
                    for i in range(8)
                ]
                deadline = time.monotonic() + 120
                while batcher.queue_depth < 8 * 16 - 8:  # alice's calls are all queued
                    assert time.monotonic() < deadline, "alice's calls never queued"
                    time.sleep(0.002)
                answer = stub.Embed(request(bob_texts), timeout=300, metadata=as_("bob-token"))
                assert len(answer.embeddings) == 4
                assert all(len(f.result().embeddings) == 16 for f in alice)
        finally:
            router.stop()
    with_bob = [i for i, batch in enumerate(ran) if bob_ids & set(batch)]
    span = ran[with_bob[0] : with_bob[-1] + 1]
    assert sum(len(bob_ids & set(batch)) for batch in span) == 4
    alice_beside = sum(1 for batch in span for ids in batch if ids not in bob_ids)
    assert alice_beside <= len(bob_texts), span
