"""The HTTP gateway in front of a real router and real backends on loopback: the `openai`
SDK, plain HTTP for typed REST, Open Inference Protocol REST (JSON and binary tensors)
and errors, cancellation on disconnect, request ids, trace context, metrics, the body
limit, and auth and rate limits over HTTP."""

from __future__ import annotations

import base64
import json
import math
import ssl
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import openai
import pytest
import yaml

from modelport.client import ModelportClient
from modelport.embedding.__main__ import build as build_embedding
from modelport.embedding.settings import EmbeddingSettings
from modelport.gateway.metrics import GatewayMetrics
from modelport.inference.settings import GenerationSettings, ModelSpec
from modelport.nlp.__main__ import build as build_nlp
from modelport.nlp.settings import NlpSettings
from modelport.router.__main__ import RouterServer
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc
from tests import prepared
from tests.gateway_harness import running_gateway, running_router
from tests.helpers import loopback_settings, running_server

ROOT = Path(__file__).resolve().parents[2]
EMBEDDER = "all-MiniLM-L6-v2"
GENERATOR = "gpt"
CHAT = "chat"
MAX_BODY = 1024 * 1024


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RouterServer]:
    # lease_ttl_s: how long after its start the router answers an unknown model
    # UNAVAILABLE (backends may still be re-registering); the tests want NOT_FOUND at once
    with running_router(tmp_path_factory.mktemp("router"), lease_ttl_s=0.5) as router:
        yield router


@pytest.fixture(scope="module")
def backends(
    router: RouterServer, minilm_dir: Path, tiny_gpt2_dir: Path, tiny_chat_dir: Path
) -> Iterator[str]:
    """An embedding and an NLP backend registered with the router; its address."""
    address = f"127.0.0.1:{router.port}"
    embedding = loopback_settings(EmbeddingSettings, router_address=address)
    nlp = loopback_settings(NlpSettings, router_address=address)
    generation = GenerationSettings(max_new_tokens=256, max_running=4)
    with (
        running_server(
            build_embedding,
            embedding,
            [ModelSpec(name=EMBEDDER, runtime="sentence-embedding", path=minilm_dir)],
        ),
        running_server(
            build_nlp,
            nlp,
            [
                ModelSpec(
                    name=GENERATOR,
                    runtime="hf-causal-lm",
                    path=tiny_gpt2_dir,
                    generation=generation,
                ),
                ModelSpec(
                    name=CHAT, runtime="hf-causal-lm", path=tiny_chat_dir, generation=generation
                ),
            ],
        ),
    ):
        with ModelportClient(address) as client:
            client.wait_for_models([EMBEDDER, GENERATOR, CHAT])
        yield address


@pytest.fixture(scope="module")
def metrics() -> GatewayMetrics:
    return GatewayMetrics()


@pytest.fixture(scope="module")
def gateway(router: RouterServer, backends: str, metrics: GatewayMetrics) -> Iterator[str]:
    with running_gateway(router.port, metrics, max_body_bytes=MAX_BODY) as url:
        yield url


@pytest.fixture
def sdk(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.fixture
def http(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, timeout=60) as client:
        yield client


def grpc_embed(backends: str, texts: list[str]) -> list[list[float]]:
    with ModelportClient(backends) as client:
        return client.embed(texts, model=EMBEDDER).vectors


def grpc_generate(backends: str, prompt: str, max_new_tokens: int) -> str:
    with grpc.insecure_channel(backends) as channel:
        response = nlp_pb2_grpc.NlpServiceStub(channel).Generate(
            nlp_pb2.GenerateRequest(
                model=common_pb2.ModelRef(name=GENERATOR),
                prompts=[prompt],
                parameters=nlp_pb2.GenerationParameters(max_new_tokens=max_new_tokens),
            ),
            timeout=60,
        )
    return str(response.generations[0].text)


# -- OpenAI ---------------------------------------------------------------------------------
def test_openai_sdk_lists_the_models(sdk: openai.OpenAI) -> None:
    models = {m.id: m for m in sdk.models.list()}
    assert {EMBEDDER, GENERATOR} <= set(models)
    assert models[EMBEDDER].object == "model"
    assert sdk.models.retrieve(GENERATOR).id == GENERATOR


def test_openai_sdk_embeddings_with_its_default_base64_equal_grpc(
    sdk: openai.OpenAI, backends: str, http: httpx.Client
) -> None:
    texts = ["the cat sat on the mat", "kubernetes schedules pods", "hello"]
    result = sdk.embeddings.create(model=EMBEDDER, input=texts)  # base64 on the wire
    assert [d.index for d in result.data] == [0, 1, 2]
    expected = grpc_embed(backends, texts)
    for got, want in zip(result.data, expected, strict=True):
        assert len(got.embedding) == 384
        assert max(abs(a - b) for a, b in zip(got.embedding, want, strict=True)) < 1e-6
    assert result.usage.prompt_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens
    assert result.model == EMBEDDER
    # the raw wire: base64 of little-endian float32 when asked, floats when not
    raw = http.post(
        "/v1/embeddings", json={"model": EMBEDDER, "input": "hello", "encoding_format": "base64"}
    ).json()
    decoded = struct.unpack("<384f", base64.b64decode(raw["data"][0]["embedding"]))
    plain = http.post("/v1/embeddings", json={"model": EMBEDDER, "input": "hello"}).json()
    assert plain["data"][0]["embedding"] == pytest.approx(list(decoded), abs=1e-7)


def test_openai_embeddings_dimensions_and_unknown_fields(sdk: openai.OpenAI) -> None:
    result = sdk.embeddings.create(
        model=EMBEDDER, input="hello", dimensions=32, extra_body={"whatever": {"x": 1}}
    )
    vector = result.data[0].embedding
    assert len(vector) == 32
    assert math.isclose(math.fsum(v * v for v in vector), 1.0, rel_tol=1e-4)


def test_openai_token_id_input_is_a_400_saying_what_to_change(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        sdk.embeddings.create(model=EMBEDDER, input=[[101, 2023, 102]])
    assert info.value.status_code == 400
    assert "check_embedding_ctx_length=False" in info.value.message
    body: Any = info.value.body
    assert body["param"] == "input"
    assert body["type"] == "invalid_request_error"


def test_openai_completions_match_grpc_and_stream_the_same_text(
    sdk: openai.OpenAI, backends: str
) -> None:
    prompt = "the cat sat"
    done = sdk.completions.create(model=GENERATOR, prompt=prompt, max_tokens=6, temperature=0)
    assert done.choices[0].text == grpc_generate(backends, prompt, 6)
    assert done.choices[0].finish_reason in ("length", "stop")
    assert done.usage is not None
    assert done.usage.completion_tokens <= 6
    chunks = list(
        sdk.completions.create(
            model=GENERATOR,
            prompt=prompt,
            max_tokens=6,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == done.choices[0].text
    assert chunks[-1].choices == []  # the usage chunk, asked for
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == done.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_sdk_chat_streaming_and_not_match_grpc(sdk: openai.OpenAI, backends: str) -> None:
    messages: list[Any] = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "text", "text": "the cat sat"}]},
    ]
    done = sdk.chat.completions.create(
        model=CHAT, messages=messages, max_completion_tokens=8, temperature=0, user="me"
    )
    with grpc.insecure_channel(backends) as channel:
        expected = nlp_pb2_grpc.NlpServiceStub(channel).Chat(
            nlp_pb2.ChatRequest(
                model=common_pb2.ModelRef(name=CHAT),
                messages=[
                    nlp_pb2.ChatMessage(role="system", content="Answer briefly."),
                    nlp_pb2.ChatMessage(role="user", content="the cat sat"),
                ],
                parameters=nlp_pb2.GenerationParameters(max_new_tokens=8),
            ),
            timeout=60,
        )
    reply = done.choices[0]
    assert reply.message.role == "assistant"
    assert reply.message.content == expected.message.content
    assert done.usage is not None
    assert done.usage.completion_tokens == expected.usage.output_tokens <= 8
    assert done.id.startswith("chatcmpl-")
    chunks = list(
        sdk.chat.completions.create(
            model=CHAT,
            messages=messages,
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:-1])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply.message.content
    assert chunks[-2].choices[0].finish_reason == reply.finish_reason
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == done.usage.total_tokens
    with pytest.raises(openai.BadRequestError) as tools:
        sdk.chat.completions.create(
            model=CHAT,
            messages=messages,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )
    assert tools.value.body["param"] == "tools"  # type: ignore[index]


def test_openai_sampling_with_a_seed_is_reproducible(sdk: openai.OpenAI) -> None:
    def sample() -> str:
        out = sdk.completions.create(
            model=GENERATOR,
            prompt="a dog",
            max_tokens=8,
            temperature=1.5,
            top_p=0.9,
            seed=7,
            stop=["zzzz"],
        )
        return out.choices[0].text

    assert sample() == sample()


def test_openai_stream_without_usage_has_no_usage_chunk(gateway: str) -> None:
    with httpx.Client(base_url=gateway, timeout=60) as client:
        body = {"model": GENERATOR, "prompt": "x", "max_tokens": 3, "stream": True}
        with client.stream("POST", "/v1/completions", json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(e["choices"] and "usage" not in e for e in events)


def test_openai_errors_have_real_statuses_and_the_envelope(
    sdk: openai.OpenAI, http: httpx.Client
) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.embeddings.create(model="no-such-model", input="x")
    assert missing.value.status_code == 404
    with pytest.raises(openai.NotFoundError):  # streaming too: the status comes first
        sdk.completions.create(model="no-such-model", prompt="x", stream=True)
    broken = http.post(
        "/v1/embeddings",
        content=b'{"model": "x", "input": ',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["param"] == "body"
    assert "not valid JSON" in broken.json()["error"]["message"]
    wrong = http.post(
        "/v1/chat/completions",
        json={"model": GENERATOR, "messages": [{"role": "robot", "content": "hi"}]},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["param"] == "messages[0].role"
    absent = http.post("/v1/embeddings", json={"input": "x"})
    assert absent.status_code == 400
    assert absent.json()["error"]["param"] == "model"
    # the backend's own validation, with the field it names
    empty = http.post("/v1/embeddings", json={"model": EMBEDDER, "input": [""]})
    assert empty.status_code == 400
    assert empty.json()["error"]["param"] == "inputs[0]"
    assert http.get("/v1/nothing-here").status_code == 404
    assert http.get("/v1/embeddings").status_code == 405


def test_body_larger_than_the_limit_is_a_413_json(http: httpx.Client) -> None:
    response = http.post("/v1/embeddings", json={"model": EMBEDDER, "input": "x" * (MAX_BODY + 10)})
    assert response.status_code == 413
    assert "max_body_bytes" in response.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"model": "x", "input": "'
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = http.post("/v2/models/m/infer", content=chunks())
    assert streamed.status_code == 413
    assert "max_body_bytes" in streamed.json()["error"]  # the OIP envelope on /v2


def test_client_disconnect_cancels_the_call_on_the_router(
    gateway: str, router: RouterServer
) -> None:
    def ended() -> float:
        total = 0.0
        for family in router.metrics.registry.collect():
            for sample in family.samples:
                labels = sample.labels
                if (
                    sample.name.endswith("_count")
                    and labels.get("method") == "/modelport.v1.RegistryService/WatchModels"
                ):
                    total += sample.value
        return total

    """A stream that never ends by itself (WatchModels over typed REST, the same SSE
    path as generation) is cancelled on the router once its HTTP client goes away."""
    before = ended()
    with (
        httpx.Client(base_url=gateway, timeout=60) as client,
        client.stream("POST", "/modelport.v1.RegistryService/WatchModels", json={}) as response,
    ):
        assert response.status_code == 200
        next(response.iter_lines())  # one event, then the client goes away
    deadline = time.monotonic() + 30
    while ended() <= before:  # it never ends by itself: it ended because it was cancelled
        assert time.monotonic() < deadline, "the router's call was not cancelled"
        time.sleep(0.05)


def test_request_id_and_trace_context_go_in_and_out(
    http: httpx.Client, metrics: GatewayMetrics
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = http.get(
        "/v1/models",
        headers={"x-request-id": "req-42", "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["traceparent"].split("-")[1] == trace_id
    fresh = http.get("/v1/models")
    assert len(fresh.headers["x-request-id"]) == 32
    assert len(fresh.headers["traceparent"].split("-")[1]) == 32
    # observed when the response has ended, which is just after the client has it
    deadline = time.monotonic() + 10
    while (
        metrics.requests.labels("/v1/models", "GET", "200")._value.get() < 2
        or metrics.in_flight.labels("/v1/models")._value.get() != 0
    ):
        assert time.monotonic() < deadline, "the requests were not counted"
        time.sleep(0.01)
    observed = metrics.duration.labels("/v1/models", "GET", "200")._sum.get()
    assert observed > 0


# -- typed REST -----------------------------------------------------------------------------
def test_typed_rest_embed_generate_stream_and_errors(http: httpx.Client, backends: str) -> None:
    response = http.post(
        "/modelport.v1.EmbeddingService/Embed",
        json={"model": {"name": EMBEDDER}, "inputs": ["hello"], "dimensions": 16},
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["embeddings"][0]["values"]) == 16
    assert int(body["usage"]["inputTokens"]) > 0
    listed = http.post("/modelport.v1.RegistryService/ListModels", json={})
    assert {m["name"] for m in listed.json()["models"]} >= {EMBEDDER, GENERATOR}
    request = {
        "model": {"name": GENERATOR},
        "prompts": ["the cat"],
        "parameters": {"maxNewTokens": 5},
    }
    with http.stream("POST", "/modelport.v1.NlpService/GenerateStream", json=request) as stream:
        assert stream.status_code == 200
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert "".join(e.get("text", "") for e in events) == grpc_generate(backends, "the cat", 5)
    assert events[-1]["finishReason"] in ("FINISH_REASON_LENGTH", "FINISH_REASON_EOS")
    bad = http.post(
        "/modelport.v1.EmbeddingService/Embed", json={"model": {"name": EMBEDDER}, "inputz": ["x"]}
    )
    assert bad.status_code == 400
    assert "inputz" in bad.json()["error"]["message"]
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    missing = http.post(
        "/modelport.v1.EmbeddingService/Embed", json={"model": {"name": "nope"}, "inputs": ["x"]}
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": 404,
        "message": missing.json()["error"]["message"],
        "status": "NOT_FOUND",
    }
    field = http.post(
        "/modelport.v1.EmbeddingService/Embed", json={"model": {"name": EMBEDDER}, "inputs": [""]}
    )
    violation = field.json()["error"]["details"][0]["fieldViolations"][0]
    assert violation["field"] == "inputs[0]"
    streamed = http.post(
        "/modelport.v1.EmbeddingService/EmbedStream",
        json=[
            {"model": {"name": EMBEDDER}, "inputs": ["a"]},
            {"model": {"name": EMBEDDER}, "inputs": ["b", "c"]},
        ],
    )
    sizes = [
        len(json.loads(line[6:])["embeddings"])
        for line in streamed.text.splitlines()
        if line.startswith("data: ")
    ]
    assert sizes == [1, 2]


# -- Open Inference Protocol REST ------------------------------------------------------------
def test_oip_health_metadata_and_repository(http: httpx.Client) -> None:
    assert http.get("/v2/health/live").json() == {"live": True}
    assert http.get("/v2/health/ready").json() == {"ready": True}
    server = http.get("/v2").json()
    assert {"binary_tensor_data", "model_repository"} <= set(server["extensions"])
    meta = http.get(f"/v2/models/{EMBEDDER}").json()
    assert meta["outputs"] == [{"name": "embedding", "datatype": "FP32", "shape": [-1, 384]}]
    assert http.get(f"/v2/models/{EMBEDDER}/versions/1/ready").json() == {
        "name": EMBEDDER,
        "ready": True,
    }
    assert http.get("/v2/models/nope/ready").status_code == 400
    index = http.post("/v2/repository/index", json={}).json()
    assert {m["name"] for m in index} >= {EMBEDDER, GENERATOR}
    missing = http.get("/v2/models/nope")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error"}


def test_oip_infer_json_and_binary_tensors_agree(http: httpx.Client, backends: str) -> None:
    texts = ["hello", "world"]
    request = {
        "id": "42",
        "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": texts}],
    }
    as_json = http.post(f"/v2/models/{EMBEDDER}/infer", json=request)
    assert as_json.status_code == 200
    body = as_json.json()
    assert body["id"] == "42"
    assert body["model_name"] == EMBEDDER
    output = body["outputs"][0]
    assert output["shape"] == [2, 384]
    assert output["datatype"] == "FP32"
    expected = [v for vector in grpc_embed(backends, texts) for v in vector]
    assert output["data"] == pytest.approx(expected, abs=1e-6)
    # the binary extension: BYTES in, FP32 out as raw little-endian bytes
    raw = b"".join(struct.pack("<I", len(t)) + t.encode() for t in texts)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "text",
                    "shape": [2],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ],
            "outputs": [{"name": "embedding", "parameters": {"binary_data": True}}],
        }
    ).encode()
    binary = http.post(
        f"/v2/models/{EMBEDDER}/infer",
        content=header + raw,
        headers={
            "inference-header-content-length": str(len(header)),
            "content-type": "application/octet-stream",
        },
    )
    assert binary.status_code == 200
    length = int(binary.headers["inference-header-content-length"])
    head = json.loads(binary.content[:length])
    size = head["outputs"][0]["parameters"]["binary_data_size"]
    assert size == 2 * 384 * 4
    values = struct.unpack(f"<{2 * 384}f", binary.content[length : length + size])
    assert list(values) == pytest.approx(output["data"], abs=1e-7)
    wrong = http.post(
        f"/v2/models/{EMBEDDER}/infer",
        json={"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "data": texts}]},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"].startswith("inputs[text].data: has 2 elements")


def test_oip_generate_and_generate_stream(http: httpx.Client, backends: str) -> None:
    expected = grpc_generate(backends, "the cat", 5)
    body = {"text_input": "the cat", "parameters": {"max_tokens": 5}}
    answer = http.post(f"/v2/models/{GENERATOR}/generate", json=body).json()
    assert answer["text_output"] == expected
    assert answer["model_name"] == GENERATOR
    with http.stream("POST", f"/v2/models/{GENERATOR}/generate_stream", json=body) as stream:
        events = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert "".join(e["text_output"] for e in events) == expected
    assert events[-1]["finish_reason"] in ("length", "stop")
    missing = http.post("/v2/models/nope/generate_stream", json=body)
    assert missing.status_code == 404
    assert "error" in missing.json()


# -- auth and limits over HTTP --------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded_gateway(
    tmp_path_factory: pytest.TempPathFactory, router: RouterServer, backends: str
) -> Iterator[tuple[str, Path]]:
    """A second router with tokens and a rate limit, routing to the same backends, and a
    gateway in front of it with an audit log."""
    folder = tmp_path_factory.mktemp("auth")
    tokens = folder / "tokens.yaml"
    tokens.write_text(
        yaml.safe_dump(
            {
                "tokens": [
                    {"token": "client-token", "identity": "team", "role": "client"},
                    {"token": "limited-token", "identity": "spender", "role": "client"},
                ]
            }
        )
    )
    replicas = router.registry.registrations()
    static = [
        {"name": r.name, "version": r.version, "endpoint": r.endpoint, "task": str(r.task)}
        for r in replicas
    ]
    audit = folder / "gateway-audit.jsonl"
    with (
        running_router(
            folder / "data",
            auth_tokens_file=tokens,
            rate_limit_per_s=0.5,
            rate_limit_burst=3,
            static_replicas=static,
        ) as secured,
        running_gateway(secured.port, audit_log=str(audit)) as url,
    ):
        yield url, audit


def test_auth_roles_and_rate_limits_hold_over_http(guarded_gateway: tuple[str, Path]) -> None:
    url, audit = guarded_gateway
    anonymous = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.models.list()
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="client-token", max_retries=0)
    assert client.embeddings.create(model=EMBEDDER, input="hi").data
    with httpx.Client(base_url=url, timeout=30) as http:
        # a client may not unload models: the router says so, the gateway passes it on
        denied = http.post(
            f"/v2/repository/models/{EMBEDDER}/unload",
            headers={"authorization": "Bearer client-token"},
        )
        assert denied.status_code == 403
        assert http.get("/v2/models/stats").status_code == 401
        statuses = [
            http.post(
                "/v1/embeddings",
                json={"model": EMBEDDER, "input": ["a", "b"]},
                headers={"authorization": "Bearer limited-token"},
            )
            for _ in range(4)
        ]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].json()["error"]["type"] == "rate_limit_error"
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {line["outcome"] for line in lines} >= {
        "unauthenticated",
        "permission_denied",
        "rate_limited",
    }
    assert all(line["who"] == "-" and line["what"] for line in lines)


# -- Triton's HTTP client, unchanged -------------------------------------------------------
@pytest.mark.slow
def test_tritonclient_http_binary_and_json_tensors(gateway: str, backends: str) -> None:
    python = prepared.triton_python()
    out = subprocess.run(
        [
            str(python),
            str(ROOT / "tests" / "clients" / "triton_http_check.py"),
            "--url",
            gateway.removeprefix("http://"),
            EMBEDDER,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["live"] is True
    assert r["ready"] is True
    assert r["model_ready"] is True
    assert r["missing_ready"] is False
    assert "binary_tensor_data" in r["server"]["extensions"]
    assert r["metadata"]["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert r["config_name"] == EMBEDDER
    assert EMBEDDER in {m["name"] for m in r["index"]}
    expected = grpc_embed(backends, ["hello", "world"])
    for name, result in r["results"].items():
        assert result["shape"] == [2, 384], name
        for got, want in zip(result["values"], expected, strict=True):
            assert got == pytest.approx(want, abs=1e-6), name
    assert r["inference_count"] >= 8
    assert r["unknown_model"]["status"] == "404"
    assert r["bad_input"]["status"] == "400"
    assert r["bad_input"]["message"].startswith("inputs[wrong]")


def test_quiet_streams_get_heartbeats(router: RouterServer, backends: str) -> None:
    """A stream with nothing to say (WatchModels after the current state) is kept open
    with `: keep-alive` comments, which SSE clients ignore."""
    with (
        running_gateway(router.port, sse_heartbeat_s=0.2) as url,
        httpx.Client(base_url=url, timeout=30) as client,
        client.stream("POST", "/modelport.v1.RegistryService/WatchModels", json={}) as stream,
    ):
        lines = stream.iter_lines()
        seen = [next(lines) for _ in range(3)]
        while not seen[-1].startswith(":"):
            seen.append(next(lines))
            assert len(seen) < 50, seen
    assert seen[0].startswith("data: ")
    assert seen[-1] == ": keep-alive"


def test_the_gateway_serves_https_when_given_a_certificate(
    router: RouterServer, backends: str, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    from tests.pki import issue, pem

    ca = issue("gateway test CA", None)
    cert, key = issue("gateway", ca, server=True)
    (tmp_path / "ca.crt").write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "tls.key").write_bytes(pem(key))
    with running_gateway(
        router.port, tls_cert_file=tmp_path / "tls.crt", tls_key_file=tmp_path / "tls.key"
    ) as url:
        secure = url.replace("http://", "https://")
        trust = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        with httpx.Client(verify=trust, timeout=30) as client:
            response = client.post(
                f"{secure}/v1/embeddings", json={"model": EMBEDDER, "input": "over tls"}
            )
        assert response.status_code == 200
        assert len(response.json()["data"][0]["embedding"]) == 384
        with pytest.raises(httpx.TransportError), httpx.Client(timeout=10) as plain:
            plain.get(f"{url}/healthz")  # plaintext to a TLS port fails


def test_a_client_gone_before_the_first_message_cancels_the_call(tmp_path: Path) -> None:
    """A stream whose first message never comes (WatchModels on a router with no model),
    left by its HTTP client while the gateway still waits for that message: the call on
    the router ends then, not at its deadline."""

    def ended(router: RouterServer) -> float:
        return sum(
            sample.value
            for family in router.metrics.registry.collect()
            for sample in family.samples
            if sample.name.endswith("_count")
            and sample.labels.get("method") == "/modelport.v1.RegistryService/WatchModels"
        )

    with (
        running_router(tmp_path / "empty") as empty,
        running_gateway(empty.port) as url,
        httpx.Client(base_url=url, timeout=1.0) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):  # no headers: the first message is awaited
            client.post("/modelport.v1.RegistryService/WatchModels", json={})
        deadline = time.monotonic() + 30
        while ended(empty) < 1:
            assert time.monotonic() < deadline, "the router's call was not cancelled"
            time.sleep(0.05)
