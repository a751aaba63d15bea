"""The HTTP gateway of `modelport up` with the real clients: the `openai` SDK against the
suite's models (embeddings with the SDK's default encoding, model list, completions,
chat streaming and not, errors) and plain HTTP against its OIP REST."""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from tests import prepared
from tests.e2e.conftest import start_suite
from tests.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHAT_MODEL = "smollm2-135m-instruct"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of the gateway of a running local suite."""
    prepared.gemma()  # else `modelport up` would convert it inside the test's timeout
    prepared.smollm2()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    port = free_port()
    up, _, lines = start_suite(env, tmp_path_factory.mktemp("suite-data"), gateway_port=port)
    try:
        assert f"HTTP gateway on http://127.0.0.1:{port}" in lines[-1], lines
        yield f"http://127.0.0.1:{port}"
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(60)


@pytest.fixture
def sdk(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key="local", max_retries=0, timeout=300)


def test_openai_sdk_models_and_embeddings(sdk: openai.OpenAI) -> None:
    ids = {m.id for m in sdk.models.list()}
    assert {"all-MiniLM-L6-v2", "sentiment", "gemma-3-270m", "efficientnet-lite0"} <= ids
    result = sdk.embeddings.create(model="all-MiniLM-L6-v2", input=["hello", "world"])
    assert [len(d.embedding) for d in result.data] == [384, 384]
    assert result.usage.prompt_tokens > 0
    with pytest.raises(openai.NotFoundError):
        sdk.embeddings.create(model="no-such-model", input="x")


def test_openai_sdk_completions_with_gemma(sdk: openai.OpenAI) -> None:
    done = sdk.completions.create(
        model="gemma-3-270m", prompt="Once upon a time", max_tokens=12, temperature=0
    )
    text = done.choices[0].text
    assert text.strip()
    assert done.usage is not None
    assert 0 < done.usage.completion_tokens <= 12
    streamed = sdk.completions.create(
        model="gemma-3-270m", prompt="Once upon a time", max_tokens=12, temperature=0, stream=True
    )
    assert "".join(c.choices[0].text for c in streamed if c.choices) == text


def test_openai_sdk_chat_streaming_and_not(sdk: openai.OpenAI) -> None:
    """Needs the chat model of the suite (SmolLM2-135M-Instruct, NlpService.Chat)."""
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    done = sdk.chat.completions.create(
        model=CHAT_MODEL, messages=messages, max_completion_tokens=24, temperature=0
    )
    reply = done.choices[0].message
    assert reply.role == "assistant"
    assert "Paris" in (reply.content or "")
    assert done.choices[0].finish_reason in ("stop", "length")
    assert done.usage is not None
    assert done.usage.prompt_tokens > 0
    chunks = list(
        sdk.chat.completions.create(
            model=CHAT_MODEL,
            messages=messages,
            max_tokens=24,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply.content
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == done.usage.completion_tokens


def test_oip_rest_and_typed_rest_reach_every_backend(gateway: str) -> None:
    with httpx.Client(base_url=gateway, timeout=120) as http:
        assert http.get("/v2/health/ready").json() == {"ready": True}
        sentiment = http.post(
            "/v2/models/sentiment/infer",
            json={
                "inputs": [
                    {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["I love this"]}
                ]
            },
        ).json()
        labels = {o["name"]: o["data"] for o in sentiment["outputs"]}
        assert labels["label"][0] == "positive"
        classified = http.post(
            "/modelport.v1.NlpService/Classify",
            json={"model": {"name": "sentiment"}, "inputs": ["This is terrible"]},
        ).json()
        assert classified["results"][0]["labels"][0]["label"] == "negative"
        generated = http.post(
            "/v2/models/gemma-3-270m/generate",
            json={"text_input": "Once upon a time", "parameters": {"max_tokens": 8}},
        ).json()
        assert generated["text_output"].strip()


def test_explain_through_typed_rest_and_the_router(gateway: str) -> None:
    with httpx.Client(base_url=gateway, timeout=300) as http:
        text = http.post(
            "/modelport.v1.NlpService/Explain",
            json={
                "model": {"name": "sentiment"},
                "input": "The food was wonderful.",
                "method": "EXPLAIN_METHOD_OCCLUSION",
            },
        )
        assert text.status_code == 200, text.text
        tokens = [t for t in text.json()["tokens"] if not t.get("special")]
        assert max(tokens, key=lambda t: t["attribution"])["text"] == "wonderful"
        bad = http.post(
            "/modelport.v1.NlpService/Explain", json={"model": {"name": "sentiment"}, "input": ""}
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["message"].startswith("input: ")
        image = http.post(
            "/modelport.v1.VisionService/Explain",
            json={
                "model": {"name": "efficientnet-lite0"},
                "image": base64.b64encode((ROOT / "docs/examples/cat.jpg").read_bytes()).decode(),
                "method": "EXPLAIN_METHOD_OCCLUSION",
                "window": 112,
            },
        )
        assert image.status_code == 200, image.text
        saliency = image.json()["saliency"]
        with Image.open(ROOT / "docs/examples/cat.jpg") as cat:
            assert (saliency["width"], saliency["height"]) == cat.size
        assert len(base64.b64decode(saliency["data"])) == 4 * cat.width * cat.height


def test_tritonclient_http_against_the_suite(gateway: str) -> None:
    """Triton's HTTP client, unchanged, against the suite's gateway: binary and JSON
    tensors of the suite's embedding model, metadata, config, index and errors."""
    import json
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "clients" / "triton_http_check.py"
    out = subprocess.run(
        [
            str(prepared.triton_python()),
            str(script),
            "--url",
            gateway.removeprefix("http://"),
            "all-MiniLM-L6-v2",
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
    assert "binary_tensor_data" in r["server"]["extensions"]
    assert {m["name"] for m in r["index"]} >= {"all-MiniLM-L6-v2", "ner", "ocr"}
    for name, result in r["results"].items():
        assert result["shape"] == [2, 384], name
    assert r["unknown_model"]["status"] == "404"
    assert r["bad_input"]["status"] == "400"
