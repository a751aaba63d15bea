"""Authentication by mTLS alone (issue 21): clients, a registering backend and the router
towards its backends are known by the identity their verified client certificate names
(SAN URI, SAN DNS name, or the CN of a certificate without SANs), mapped to a role by
`auth_tls_identities`; nobody sends a bearer token. Certificates are made in the test;
the router and the backend are real TLS servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509

from modelport.embedding.__main__ import build
from modelport.embedding.settings import EmbeddingSettings
from modelport.inference.settings import ModelSpec
from modelport.oip.v2 import open_inference_pb2 as oip
from modelport.oip.v2 import open_inference_pb2_grpc as oip_grpc
from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests.helpers import RecordingReplica, loopback_settings, running_server, start_router
from tests.helpers import aio_code as code
from tests.pki import issue
from tests.pki import write as pki_files

pytestmark = pytest.mark.slow

ROUTER_URI = "spiffe://modelport/router"
EMBEDDING_URI = "spiffe://modelport/embedding"
TEAM_A_DNS = "team-a.clients.modelport"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    ca = issue("modelport test CA", None)
    return pki_files(
        tmp_path_factory.mktemp("mtls-pki"),
        {
            "ca": ca,
            "server": issue("server", ca, server=True),
            "router": issue("router", ca, sans=[x509.UniformResourceIdentifier(ROUTER_URI)]),
            "embedding": issue(
                "embedding", ca, sans=[x509.UniformResourceIdentifier(EMBEDDING_URI)]
            ),
            "team-a": issue("team-a", ca, sans=[x509.DNSName(TEAM_A_DNS)]),
            "ops": issue("ops", ca),  # known by its CN: it has no SAN
            # signed by the right CA, but naming nobody the router knows
            "stranger": issue("stranger", ca, sans=[x509.DNSName("stranger.example")]),
            # CN "ops", but a certificate with SANs is known by its SANs only
            "lookalike": issue("ops", ca, sans=[x509.DNSName("lookalike.example")]),
        },
    )


def channel_as(pki: dict[str, Path], who: str, port: int) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki["ca.crt"].read_bytes(),
        private_key=pki[f"{who}.key"].read_bytes(),
        certificate_chain=pki[f"{who}.crt"].read_bytes(),
    )
    return grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials)


async def eventually(check: Callable[[], Any], what: str, attempts: int = 600) -> None:
    """Await `check()` until it returns true (bounded by `attempts` tries, not a time)."""
    for _ in range(attempts):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


@contextlib.asynccontextmanager
async def in_thread(manager: contextlib.AbstractContextManager[Any]) -> AsyncIterator[Any]:
    """Enter a blocking context manager off the event loop (the router on this loop keeps
    answering while a backend starts and registers)."""
    entered = await asyncio.to_thread(manager.__enter__)
    try:
        yield entered
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


EMBED = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="tiny"), inputs=["mtls"])


async def test_mtls_alone_authenticates_clients_the_registrar_and_the_router(
    pki: dict[str, Path], tiny_bert_dir: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    tls: dict[str, Any] = {
        "tls_cert_file": pki["server.crt"],
        "tls_key_file": pki["server.key"],
        "tls_client_ca_file": pki["ca.crt"],
    }
    router = await start_router(
        tmp_path,
        audit_log=str(audit),
        **tls,
        auth_tls_identities=[
            {"peer": TEAM_A_DNS, "identity": "team-a", "role": "client"},
            {"peer": "ops", "role": "admin"},
            {"peer": EMBEDDING_URI, "role": "registrar", "same_host": True},
        ],
        backend_tls_ca_file=pki["ca.crt"],
        backend_tls_cert_file=pki["router.crt"],
        backend_tls_key_file=pki["router.key"],
    )
    backend_settings = loopback_settings(
        EmbeddingSettings,
        **tls,
        auth_tls_identities=[{"peer": ROUTER_URI, "role": "router"}],
        router_address=f"127.0.0.1:{router.port}",
        router_tls_ca_file=pki["ca.crt"],
        router_tls_cert_file=pki["embedding.crt"],
        router_tls_key_file=pki["embedding.key"],
    )
    models = [ModelSpec(name="tiny", runtime="sentence-embedding", path=tiny_bert_dir)]
    channels = {
        who: channel_as(pki, who, router.port)
        for who in ("team-a", "ops", "stranger", "lookalike", "embedding")
    }
    try:
        async with in_thread(running_server(build, backend_settings, models)) as backend:
            team_a = channels["team-a"]
            listing = registry_pb2_grpc.RegistryServiceStub(team_a)

            async def registered() -> bool:
                answer = await listing.ListModels(registry_pb2.ListModelsRequest(), timeout=5)
                return any(m.name == "tiny" for m in answer.models)

            # the backend registered by its certificate alone (a registrar on its host)
            await eventually(registered, "the backend registers with its certificate")
            # a client known by its SAN DNS name infers; the router reaches the backend,
            # which requires the router's certificate identity, with no token either way
            embed = embedding_pb2_grpc.EmbeddingServiceStub(team_a)
            assert (await embed.Embed(EMBED, timeout=10)).embeddings
            streamed = [answer async for answer in embed.EmbedStream(iter([EMBED] * 3))]
            assert [len(answer.embeddings) for answer in streamed] == [1, 1, 1]
            for who in ("stranger", "lookalike"):
                stub = embedding_pb2_grpc.EmbeddingServiceStub(channels[who])
                assert await code(stub.Embed(EMBED, timeout=10)) == (
                    grpc.StatusCode.UNAUTHENTICATED
                ), who
                # refused before any message (none written: a write after the refusal
                # would be the aio client's own error, grpc#36066)
                refused = stub.EmbedStream(timeout=10)  # type: ignore[call-arg]  # reader API
                assert await code(refused.read()) == grpc.StatusCode.UNAUTHENTICATED, who
            # roles hold: a client loads nothing; an admin (known by its CN) loads through
            # the router, and the backend takes the load from the router's certificate
            load = oip.RepositoryModelLoadRequest(model_name="tiny")
            assert (
                await code(
                    oip_grpc.GRPCInferenceServiceStub(team_a).RepositoryModelLoad(load, timeout=10)
                )
                == grpc.StatusCode.PERMISSION_DENIED
            )
            ops = oip_grpc.GRPCInferenceServiceStub(channels["ops"])
            assert await code(ops.RepositoryModelLoad(load, timeout=120)) == grpc.StatusCode.OK
            # the registrar's certificate registers only its own host, splits nothing
            registrar = registry_pb2_grpc.RegistryServiceStub(channels["embedding"])
            foreign = registry_pb2.RegisterModelRequest(
                model=common_pb2.ModelRef(name="tiny", version="9"),
                task=common_pb2.TASK_EMBEDDING,
                endpoint="10.1.2.3:50051",
            )
            split = registry_pb2.SetTrafficSplitRequest(name="tiny", weights={"1": 1})
            for call in (registrar.RegisterModel(foreign), registrar.SetTrafficSplit(split)):
                assert await code(call) == grpc.StatusCode.PERMISSION_DENIED
            # straight to the backend: only the router's identity is known there
            for who in ("team-a", "ops", "embedding"):
                async with channel_as(pki, who, backend.port) as direct:
                    stub = embedding_pb2_grpc.EmbeddingServiceStub(direct)
                    assert await code(stub.Embed(EMBED, timeout=10)) == (
                        grpc.StatusCode.UNAUTHENTICATED
                    ), who
                    direct_oip = oip_grpc.GRPCInferenceServiceStub(direct)
                    assert await code(direct_oip.RepositoryModelLoad(load, timeout=10)) == (
                        grpc.StatusCode.UNAUTHENTICATED
                    ), who
            async with channel_as(pki, "router", backend.port) as direct:
                stub = embedding_pb2_grpc.EmbeddingServiceStub(direct)
                assert (await stub.Embed(EMBED, timeout=10)).embeddings
    finally:
        for channel in channels.values():
            await channel.close(None)
        await router.stop(grace=0)
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {"kind": "admin", "who": "ops", "what": load_method(), "outcome": "allowed"} in [
        {k: line.get(k) for k in ("kind", "who", "what", "outcome")} for line in lines
    ]
    denied = {(line["who"], line["outcome"]) for line in lines if line["kind"] == "denied"}
    assert {("-", "unauthenticated"), ("team-a", "permission_denied")} <= denied
    assert ("spiffe://modelport/embedding", "permission_denied") in denied


def load_method() -> str:
    return "/inference.GRPCInferenceService/RepositoryModelLoad"


async def test_a_caller_known_by_its_certificate_is_queued_as_its_identity(
    pki: dict[str, Path], tmp_path: Path
) -> None:
    """The fair-share key the router forwards (`x-modelport-caller`) of a client known by
    its certificate alone is that certificate's identity, whatever the client claims."""
    replica = RecordingReplica()
    router = await start_router(
        tmp_path,
        tls_cert_file=pki["server.crt"],
        tls_key_file=pki["server.key"],
        tls_client_ca_file=pki["ca.crt"],
        auth_tls_identities=[{"peer": TEAM_A_DNS, "identity": "team-a", "role": "client"}],
        static_replicas=[{"name": "tiny", "version": "1", "endpoint": replica.address}],
    )
    claim = (("x-modelport-caller", "id:someone-else"),)
    try:
        async with channel_as(pki, "team-a", router.port) as channel:
            embed = embedding_pb2_grpc.EmbeddingServiceStub(channel)
            await embed.Embed(EMBED, timeout=10, metadata=claim)
            async for _ in embed.EmbedStream(iter([EMBED] * 2), timeout=10, metadata=claim):
                pass
    finally:
        await router.stop(grace=0)
        replica.server.stop(0)
    assert [received["x-modelport-caller"] for received in replica.metadata] == ["id:team-a"] * 2
