"""TLS, mTLS, bearer tokens with roles, per-identity rate limits and the audit log, with
certificates made in the test and real processes on loopback."""

from __future__ import annotations

import datetime
import ipaddress
import json
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from modelport.client import ClientError, ModelportClient
from modelport.embedding.__main__ import build
from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.helpers import ServiceProcess, free_port, loopback_settings, rpc_error, running_server

pytestmark = pytest.mark.slow

TOKENS = {"client": "client-token", "admin": "admin-token", "busy": "busy-token"}


def pem(key: Any) -> bytes:
    return key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def issue(name: str, issuer: tuple[Any, Any] | None, server: bool = False) -> tuple[Any, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            False,
        )
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pki")
    ca = issue("modelport test CA", None)
    rogue_ca = issue("someone else", None)
    files = {}
    for name, (cert, key) in {
        "ca": ca,
        "server": issue("backend", ca, server=True),
        "client": issue("router", ca),
        "rogue": issue("intruder", rogue_ca),
    }.items():
        files[f"{name}.crt"] = out / f"{name}.crt"
        files[f"{name}.key"] = out / f"{name}.key"
        files[f"{name}.crt"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{name}.key"].write_bytes(pem(key))
    return files


@pytest.fixture(scope="module")
def backend(pki: dict[str, Path], tiny_bert_dir: Path) -> Iterator[InferenceServer]:
    """An embedding backend that only accepts clients with a certificate from our CA."""
    settings = loopback_settings(
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
    assert {
        "kind": "admin",
        "who": "platform",
        "outcome": "allowed",
        "what": "/modelport.v1.RegistryService/SetTrafficSplit",
    }.items() <= lines[-1].items()
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
