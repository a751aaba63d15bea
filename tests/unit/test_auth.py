"""The pieces of authentication on their own: tokens and their bindings, endpoints and
patterns, the rate limiter's units, the audit log's budget for denied calls, and the
caller-chosen ids that reach logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from modelport.serving import endpoints
from modelport.serving.auth import (
    AuditLog,
    InputCounter,
    RateLimiter,
    load_token_table,
    load_tokens,
)
from modelport.serving.identity import Principal, allowed
from modelport.serving.tracing import new_request_id, trace_id
from modelport.v1 import common_pb2, embedding_pb2, nlp_pb2, registry_pb2, vision_pb2

EMBED = "/modelport.v1.EmbeddingService/Embed"


def write_tokens(path: Path, *entries: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({"tokens": list(entries)}))
    return path


# -- tokens ---------------------------------------------------------------------------------
def test_tokens_and_the_routers_token_make_one_table(tmp_path: Path) -> None:
    tokens = write_tokens(
        tmp_path / "tokens.yaml",
        {"token": "c", "identity": "app", "role": "client"},
        {"token": "r", "identity": "pods", "role": "registrar", "endpoints": ["10.0.0.0/8"]},
    )
    router = tmp_path / "router-token"
    router.write_text("the-router\n")
    table = load_token_table(tokens, router)
    assert len(table) == 3
    assert table.find("c") == Principal("app", "client")
    assert table.find("r") == Principal("pods", "registrar", ("10.0.0.0/8",))
    assert table.find("the-router") == Principal("router", "router")
    assert table.find("the-route") is None
    assert table.find("") is None


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"token": "t", "identity": "i", "role": "root"}, "role"),
        ({"token": "t", "identity": "i", "role": "registrar"}, "bound to"),
        ({"token": "t", "identity": "i", "role": "registrar", "endpoints": ["a b"]}, "CIDR"),
        ({"token": "t", "identity": "i", "role": "client", "same_host": True}, "only a registrar"),
        ({"identity": "i", "role": "client"}, "needs token"),
    ],
)
def test_a_bad_tokens_entry_is_named(
    tmp_path: Path, entry: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint) as info:
        load_tokens(write_tokens(tmp_path / "tokens.yaml", entry))
    assert "tokens[0]" in str(info.value)


def test_the_routers_token_cannot_double_as_another(tmp_path: Path) -> None:
    tokens = write_tokens(tmp_path / "t.yaml", {"token": "x", "identity": "i", "role": "admin"})
    router = tmp_path / "router-token"
    router.write_text("x")
    with pytest.raises(ValueError, match="router's token is in the tokens file"):
        load_token_table(tokens, router)
    router.write_text("  \n")
    with pytest.raises(ValueError, match="empty"):
        load_token_table(None, router)


def test_what_each_role_may_call() -> None:
    register = "/modelport.v1.RegistryService/RegisterModel"
    split = "/modelport.v1.RegistryService/SetTrafficSplit"
    unload = "/inference.GRPCInferenceService/RepositoryModelUnload"
    listing = "/modelport.v1.RegistryService/ListModels"
    shadow = "/modelport.v1.RegistryService/SetShadow"
    shadow_counts = "/modelport.v1.RegistryService/GetShadow"
    table = {
        "client": {EMBED, listing, shadow_counts},
        "registrar": {register},
        "router": {EMBED, listing, unload, shadow_counts},
        "admin": {EMBED, listing, unload, register, split, shadow, shadow_counts},
    }
    for role, may in table.items():
        for method in (EMBED, listing, unload, register, split, shadow, shadow_counts):
            assert allowed(role, method) is (method in may), (role, method)


def test_a_registrar_is_held_to_its_binding() -> None:
    bound = Principal("pods", "registrar", ("10.1.0.0/16", "embed-0.svc:50051", "10.2.0.7"))
    assert bound.may_register("10.1.2.3:50051", "ipv4:192.168.0.1:40000")
    assert bound.may_register("embed-0.svc:50051", "ipv4:192.168.0.1:40000")
    assert not bound.may_register("embed-0.svc:50052", "ipv4:192.168.0.1:40000")
    assert bound.may_register("10.2.0.7:1", "ipv4:192.168.0.1:40000")
    assert not bound.may_register("10.3.2.3:50051", "ipv4:10.3.2.3:40000")
    assert not bound.may_register("unix:/tmp/s", "unix:/tmp/s")
    local = Principal("pod", "registrar", same_host=True)
    assert local.may_register("10.3.2.3:50051", "ipv4:10.3.2.3:40000")
    assert local.may_register("[fd00::7]:50051", "ipv6:[fd00:0::7]:40000")
    assert not local.may_register("10.3.2.4:50051", "ipv4:10.3.2.3:40000")
    assert not local.may_register("pod.svc:50051", "ipv4:10.3.2.3:40000")  # names: no
    assert Principal("platform", "admin").may_register("anything:1", "")


# -- endpoints ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "endpoint",
    ["10.0.0.1:50051", "embed-0.embed.ns.svc.cluster.local:50051", "[::1]:7", "localhost:1"],
)
def test_host_port_endpoints(endpoint: str) -> None:
    assert endpoints.is_host_port(endpoint)
    assert endpoints.dial_target(endpoint) == f"dns:///{endpoint}"


@pytest.mark.parametrize(
    "endpoint",
    [
        "unix:/tmp/s.sock",
        "unix:50051",
        "unix-abstract:x",
        "dns:///10.0.0.1:1",
        "ipv4:10.0.0.1:1",
        "10.0.0.1",
        "10.0.0.1:0",
        "10.0.0.1:65536",
        "h:1x",
        "a b:1",
        "[nothost]:1",
        "::1:5",
        ":5",
        "",
    ],
)
def test_anything_but_host_port_is_refused(endpoint: str) -> None:
    assert not endpoints.is_host_port(endpoint)


def test_patterns_match_by_cidr_host_or_host_port() -> None:
    assert endpoints.matches("10.1.2.3:5", "10.0.0.0/8")
    assert not endpoints.matches("11.1.2.3:5", "10.0.0.0/8")
    assert not endpoints.matches("name:5", "10.0.0.0/8")
    assert endpoints.matches("Name.Example:5", "name.example")
    assert endpoints.matches("[fd00::1]:5", "fd00::/8")
    assert endpoints.matches("10.1.2.3:5", "10.1.2.3:5")
    assert not endpoints.matches("10.1.2.3:6", "10.1.2.3:5")
    assert endpoints.peer_host("ipv6:[::1]:4000") == "::1"
    assert endpoints.peer_host("unix:/tmp/x") is None


# -- rate limits ----------------------------------------------------------------------------
def test_a_call_costs_one_unit_per_input_and_may_overdraw_the_bucket() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10.0, burst=5, clock=lambda: now[0])
    assert limiter.take("a", 8) == 0  # five units left: admitted, three in debt
    assert limiter.take("a") == pytest.approx(0.4)  # -3 -> 1 takes 0.4 s at 10/s
    assert limiter.take("b") == 0  # another identity has its own bucket
    now[0] = 0.4
    assert limiter.take("a") == 0


def test_the_inputs_of_a_request_are_counted_parsed_or_raw() -> None:
    count = InputCounter()
    ref = common_pb2.ModelRef(name="m")
    embed = embedding_pb2.EmbedRequest(model=ref, inputs=["a", "b", "c"])
    assert count(EMBED, embed) == 3
    assert count(EMBED, embed.SerializeToString()) == 3
    assert count(EMBED, embedding_pb2.EmbedRequest(model=ref).SerializeToString()) == 1
    generate = nlp_pb2.GenerateRequest(model=ref, prompts=["x", "y"]).SerializeToString()
    assert count("/modelport.v1.NlpService/GenerateStream", generate) == 2
    images = vision_pb2.ClassifyImageRequest(model=ref, images=[b"1", b"2"])
    assert count("/modelport.v1.VisionService/ClassifyImage", images) == 2
    renew = registry_pb2.RenewLeaseRequest(
        lease_ids=["a", "b"], states=[common_pb2.MODEL_STATE_READY] * 2
    )
    assert count("/modelport.v1.RegistryService/RenewLease", renew) == 1  # field 2: states
    assert count("/inference.GRPCInferenceService/ModelInfer", b"\x0a\x01m") == 1
    assert count("/unknown.Service/Method", b"") == 1


def test_an_inference_request_costs_its_batch_parsed_or_raw() -> None:
    """M1: ModelInfer and every ModelStreamInfer message cost their batch: the largest
    first dimension of their tensors, or the element count of a BYTES tensor."""
    from modelport.oip.v2 import open_inference_pb2 as oip

    count = InputCounter()
    tensor = oip.ModelInferRequest.InferInputTensor

    def infer(*inputs: oip.ModelInferRequest.InferInputTensor) -> oip.ModelInferRequest:
        return oip.ModelInferRequest(model_name="m", inputs=inputs)

    cases = [
        (infer(tensor(name="t", datatype="BYTES", shape=[7])), 7),
        (infer(tensor(name="t", datatype="BYTES", shape=[3, 2])), 6),
        (infer(tensor(name="ids", datatype="INT64", shape=[5, 128])), 5),
        (
            infer(
                tensor(name="ids", datatype="INT64", shape=[4, 16]),
                tensor(name="mask", datatype="INT64", shape=[9, 16]),
            ),
            9,
        ),
        (infer(tensor(name="t", datatype="FP32", shape=[-1, 3])), 1),
        (infer(tensor(name="t", datatype="BYTES", shape=[])), 1),
        (infer(), 1),
        (infer(tensor(name="t", datatype="BYTES", shape=[1 << 40, 1 << 40])), 1 << 16),
    ]
    for method in ("ModelInfer", "ModelStreamInfer"):
        path = f"/inference.GRPCInferenceService/{method}"
        for request, cost in cases:
            assert count(path, request) == cost, (request, cost)
            assert count(path, request.SerializeToString()) == cost, (request, cost)
    # a shape not packed (as protobuf also accepts) counts the same
    unpacked = b"\x0a\x01m\x2a\x0d\x0a\x01t\x12\x04INT6\x18\x03\x18\x02"
    assert count("/inference.GRPCInferenceService/ModelInfer", unpacked) == 3


# -- the audit log --------------------------------------------------------------------------
def test_denied_lines_have_a_budget_per_source_and_report_what_they_left_out(
    tmp_path: Path,
) -> None:
    now = [0.0]
    audit = AuditLog(
        str(tmp_path / "audit.jsonl"), denied_per_s=1.0, denied_burst=3, clock=lambda: now[0]
    )
    for _ in range(10):
        audit.denied("peer:10.0.0.1", kind="denied", who="-")
    for _ in range(2):
        audit.denied("peer:10.0.0.2", kind="denied", who="-")
    audit.write(kind="admin", who="platform")  # never limited
    now[0] = 1.0
    audit.denied("peer:10.0.0.1", kind="denied", who="-")
    audit.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["denied"] * 5 + ["admin", "denied"]
    assert lines[-1]["suppressed"] == 7
    assert not any("suppressed" in line for line in lines[:-1])


def test_all_sources_together_have_a_budget_too(tmp_path: Path) -> None:
    audit = AuditLog(
        str(tmp_path / "audit.jsonl"), denied_per_s=1.0, denied_burst=1, clock=lambda: 0.0
    )
    for i in range(50):
        audit.denied(f"peer:10.0.0.{i}", kind="denied")
    audit.close()
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == AuditLog.OVERALL


# -- ids callers choose ---------------------------------------------------------------------
def test_only_a_plausible_request_id_is_kept() -> None:
    for kept in ("req-42", "0af7651916cd43dd8448eb211c80319c", "1-5759e988-bd86", "a/b+c=:d"):
        assert new_request_id({"x-request-id": kept}) == kept
    for replaced in ("", "x" * 129, 'quote"', "new\nline", "spa ce", b"bytes"):
        made = new_request_id({"x-request-id": replaced})
        assert made != replaced
        assert len(made) == 32


def test_only_a_w3c_traceparent_yields_a_trace_id() -> None:
    good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert trace_id(good) == "0af7651916cd43dd8448eb211c80319c"
    for bad in (
        "00-" + "A" * 7900 + "-b7ad6b7169203331-01",
        '00-injected","who":"platform-b7ad6b7169203331-01',
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
        None,
    ):
        assert trace_id(bad) == ""


def test_the_fair_share_key_is_the_identity_and_a_forwarded_one_only_from_the_router() -> None:
    """Whose work a call is: an authenticated caller's identity; the key the router forwards
    counts only from the router's (or an admin's) credential, or with authentication off;
    anyone else claiming one is queued as themselves."""
    from modelport.serving.calls import CALLER_HEADER, MAX_KEY_CHARS, fair_share_key

    claim = {CALLER_HEADER: "id:alice"}
    peer = "ipv4:10.0.0.7:51234"
    router, admin = Principal("router", "router"), Principal("platform", "admin")
    client = Principal("mallory", "client")
    assert fair_share_key(claim, peer, router) == "id:alice"
    assert fair_share_key(claim, peer, admin) == "id:alice"
    assert fair_share_key(claim, peer, client) == "id:mallory"
    assert fair_share_key({}, peer, client) == "id:mallory"
    assert fair_share_key({}, peer, router) == "id:router"
    assert fair_share_key({}, peer, None) == f"peer:{peer}"
    assert fair_share_key(claim, peer, None) == "id:alice"  # authentication off: trusted
    assert fair_share_key({CALLER_HEADER: "x" * 10_000}, peer, router) == "x" * MAX_KEY_CHARS


# -- client certificate identities ---------------------------------------------------------
def test_a_certificate_is_known_by_its_san_uri_or_dns_name_or_its_cn_without_sans() -> None:
    from modelport.serving.auth import CertificateTable
    from modelport.serving.settings import TlsIdentity

    table = CertificateTable(
        [
            TlsIdentity(peer="spiffe://mp/router", role="router"),
            TlsIdentity(peer="team-a.clients", identity="team-a"),
            TlsIdentity(peer="ops", role="admin"),
            TlsIdentity(peer="embed.mp", role="registrar", same_host=True),
        ]
    )

    def peer(**properties: list[bytes]) -> dict[str, list[bytes]]:
        return {"transport_security_type": [b"ssl"], **properties}

    assert table.find(
        peer(
            peer_uri=[b"spiffe://mp/router"], x509_subject_alternative_name=[b"spiffe://mp/router"]
        )
    ) == Principal("spiffe://mp/router", "router")
    assert table.find(
        peer(peer_dns=[b"team-a.clients"], x509_subject_alternative_name=[b"team-a.clients"])
    ) == Principal("team-a", "client")
    assert table.find(peer(x509_common_name=[b"ops"])) == Principal("ops", "admin")
    assert table.find(peer(peer_dns=[b"embed.mp"], x509_subject_alternative_name=[b"x"])) == (
        Principal("embed.mp", "registrar", (), True)
    )
    # a certificate with SANs is not known by its CN; nobody is known without TLS
    assert (
        table.find(
            peer(x509_common_name=[b"ops"], peer_dns=[b"x"], x509_subject_alternative_name=[b"x"])
        )
        is None
    )
    assert table.find({"x509_common_name": [b"ops"]}) is None
    assert (
        table.find(peer(peer_dns=[b"someone.else"], x509_subject_alternative_name=[b"x"])) is None
    )


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"auth_tls_identities": [{"peer": "a"}]}, "tls_client_ca_file"),
        (
            {
                "auth_tls_identities": [{"peer": "a"}, {"peer": "a", "role": "admin"}],
                "tls_client_ca_file": "ca.pem",
                "tls_cert_file": "c.pem",
                "tls_key_file": "k.pem",
            },
            "same peer twice",
        ),
        ({"auth_tls_identities": [{"peer": "a", "role": "registrar"}]}, "bound to"),
        ({"auth_tls_identities": [{"peer": "a", "same_host": True}]}, "only a registrar"),
        ({"auth_tls_identities": [{"peer": "a", "role": "root"}]}, "role"),
    ],
)
def test_certificate_identities_fail_loudly(settings: dict[str, object], complaint: str) -> None:
    from pydantic import ValidationError

    from modelport.serving.settings import CommonSettings

    with pytest.raises(ValidationError, match=complaint):
        CommonSettings(**settings)  # type: ignore[arg-type]
