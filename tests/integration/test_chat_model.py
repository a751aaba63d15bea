"""The suite's chat model, SmolLM2-135M-Instruct (converted by `make models`), with its
default spec, answering real requests through a router: a summary keeps what the
paragraph is about, the reply ends at the template's end of turn, streaming carries the
role first, and the Python client's chat helpers work against it."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from modelport.client import ModelportClient
from modelport.nlp.__main__ import CHAT_MODEL, build, default_models
from modelport.nlp.settings import NlpSettings
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc
from tests import prepared
from tests.helpers import running_server, static_router

pytestmark = pytest.mark.slow

PARAGRAPH = (
    "The city council voted on Tuesday to build a new public library downtown. "
    "Construction starts next spring and will cost 12 million dollars, paid for by a "
    "state grant. The library will have a children's wing and a rooftop garden."
)


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of a router in front of an NLP server that loads the default spec of
    the chat model (from the folder `make models` converted)."""
    prepared.smollm2()
    (spec,) = [m for m in default_models() if m.name == CHAT_MODEL]
    settings = NlpSettings(host="127.0.0.1", port=0, metrics_port=-1)
    with running_server(build, settings, [spec]) as server:
        replicas = [
            {"name": CHAT_MODEL, "task": "text-generation", "endpoint": f"127.0.0.1:{server.port}"}
        ]
        with static_router(tmp_path_factory.mktemp("router"), replicas) as process:
            yield process.address


def test_a_summary_through_the_router_keeps_what_the_paragraph_is_about(router: str) -> None:
    with ModelportClient(router, timeout_s=300) as client:
        reply = client.chat(
            f"Summarise this paragraph in one sentence: {PARAGRAPH}", max_new_tokens=96
        )
    assert reply.model == CHAT_MODEL
    assert reply.role == "assistant"
    assert "library" in reply.text.lower(), reply.text
    assert reply.finish_reason == "eos", reply  # it ended its turn (at <|im_end|>)
    assert "<|im_end|>" not in reply.text
    assert reply.input_tokens > len(PARAGRAPH.split())  # the template's tokens count too


def test_a_streamed_reply_starts_with_the_role_and_matches_the_whole_reply(router: str) -> None:
    request = nlp_pb2.ChatRequest(
        model=common_pb2.ModelRef(name=CHAT_MODEL),
        messages=[
            nlp_pb2.ChatMessage(role="system", content="You are a concise assistant."),
            nlp_pb2.ChatMessage(role="user", content="What is the capital of France?"),
        ],
        parameters=nlp_pb2.GenerationParameters(max_new_tokens=40),
    )
    with grpc.insecure_channel(router) as channel:
        stub = nlp_pb2_grpc.NlpServiceStub(channel)
        whole = stub.Chat(request, timeout=300)
        chunks = list(stub.ChatStream(request, timeout=300))
    assert chunks[0].role == "assistant"
    assert "".join(c.text for c in chunks) == whole.message.content
    assert chunks[-1].usage == whole.usage
    assert "Paris" in whole.message.content, whole
    assert whole.finish_reason == nlp_pb2.FINISH_REASON_EOS


def test_the_python_clients_stream_a_multi_turn_conversation(router: str) -> None:
    question = "What is the capital of France?"
    conversation = [
        ("user", "Hello!"),
        ("assistant", "Hello! How can I help you today?"),
        ("user", question),
    ]
    with ModelportClient(router, timeout_s=300) as client:
        chunks = list(client.chat_stream(conversation, max_new_tokens=24))
        alone = client.chat(question, max_new_tokens=24)
    assert all(c.model == CHAT_MODEL for c in chunks)
    assert [c.finish_reason is not None for c in chunks].count(True) == 1
    assert chunks[-1].finish_reason == "eos"
    assert "Paris" in "".join(c.text for c in chunks)
    assert chunks[-1].input_tokens > alone.input_tokens  # every turn is in the prompt
