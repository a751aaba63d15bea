"""Chat and ChatStream on loopback with tiny random chat models built in fixtures: the
model's chat template applied, the decoding loop shared with Generate, the end-of-turn
stop, and every refusal naming its field."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from modelport import cli
from modelport.client import ModelportClient
from modelport.inference.server import InferenceServer
from modelport.inference.settings import GenerationSettings
from modelport.nlp.__main__ import build
from modelport.nlp.settings import CausalLMSpec, GenerativeOptions, NlpSettings
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.helpers import rpc_error, running_server, static_router

CONVERSATION = [
    ("system", "you answer about animals"),
    ("user", "the cat sat on the mat"),
    ("assistant", "a dog runs in the park"),
    ("user", "the quick brown fox"),
]


@pytest.fixture(scope="module")
def server(
    tiny_chat_dir: Path, tiny_chat_ending_dir: Path, tiny_gpt2_dir: Path
) -> Iterator[InferenceServer]:
    models = [
        CausalLMSpec(
            name="chat",
            path=tiny_chat_dir,
            generation=GenerationSettings(max_new_tokens=100, max_running=4),
        ),
        CausalLMSpec(
            name="chat-one",
            path=tiny_chat_dir,
            generation=GenerationSettings(max_new_tokens=100, max_running=1),
        ),
        CausalLMSpec(
            name="chat-short", path=tiny_chat_dir, options=GenerativeOptions(max_context=32)
        ),
        CausalLMSpec(name="ending", path=tiny_chat_ending_dir),
        CausalLMSpec(name="plain", path=tiny_gpt2_dir),
    ]
    settings = NlpSettings(host="127.0.0.1", port=0, metrics_port=-1)
    with running_server(build, settings, models) as srv:
        yield srv


@pytest.fixture(scope="module")
def channel(server: InferenceServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> nlp_pb2_grpc.NlpServiceStub:
    return nlp_pb2_grpc.NlpServiceStub(channel)


@pytest.fixture(scope="module")
def router(server: InferenceServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A router process in front of the server's chat models: `host:port`."""
    replicas = [
        {"name": name, "task": "text-generation", "endpoint": f"127.0.0.1:{server.port}"}
        for name in ("chat", "chat-one", "plain")
    ]
    with static_router(tmp_path_factory.mktemp("router"), replicas) as process:
        yield process.address


def chat_request(
    model: str, messages: list[tuple[str, str]], **params: object
) -> nlp_pb2.ChatRequest:
    return nlp_pb2.ChatRequest(
        model=common_pb2.ModelRef(name=model),
        messages=[nlp_pb2.ChatMessage(role=r, content=c) for r, c in messages],
        parameters=nlp_pb2.GenerationParameters(**params),  # type: ignore[arg-type]
    )


def metric(server: InferenceServer, name: str, model: str) -> float:
    return server.metrics.registry.get_sample_value(name, {"model": model}) or 0.0


def hf_chat_greedy(path: Path, messages: list[tuple[str, str]], tokens: int) -> tuple[int, str]:
    """(templated prompt tokens, greedy reply) as transformers makes them, stopping at
    end-of-sequence or `<|im_end|>`."""
    tokenizer: Any = AutoTokenizer.from_pretrained(path)
    model: Any = AutoModelForCausalLM.from_pretrained(path)
    ids = tokenizer.apply_chat_template(
        [{"role": r, "content": c} for r, c in messages],
        add_generation_prompt=True,
        return_dict=True,
    )["input_ids"]
    end = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    out = model.eval().generate(
        torch.tensor([ids]), max_new_tokens=tokens, do_sample=False, eos_token_id=end
    )
    return len(ids), str(tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True))


def test_chat_applies_the_models_template_and_decodes_as_transformers_does(
    stub: nlp_pb2_grpc.NlpServiceStub, tiny_chat_dir: Path
) -> None:
    prompt_tokens, expected = hf_chat_greedy(tiny_chat_dir, CONVERSATION, 20)
    answer = stub.Chat(chat_request("chat", CONVERSATION, max_new_tokens=20), timeout=60)
    assert answer.model.name == "chat"
    assert answer.message.role == "assistant"
    assert answer.message.content == expected
    assert answer.usage.input_tokens == prompt_tokens  # the templated conversation
    assert 0 < answer.usage.output_tokens <= 20
    assert answer.finish_reason in (nlp_pb2.FINISH_REASON_LENGTH, nlp_pb2.FINISH_REASON_EOS)
    # the template is what Chat adds: Generate on the bare text sees fewer tokens
    bare = stub.Generate(
        nlp_pb2.GenerateRequest(
            model=common_pb2.ModelRef(name="chat"),
            prompts=["the quick brown fox"],
            parameters=nlp_pb2.GenerationParameters(max_new_tokens=1),
        ),
        timeout=60,
    )
    assert bare.usage.input_tokens < prompt_tokens


def test_stream_carries_the_role_first_and_usage_last(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    request = chat_request("chat", CONVERSATION, max_new_tokens=20)
    whole = stub.Chat(request, timeout=60)
    chunks = list(stub.ChatStream(request, timeout=60))
    assert chunks[0].role == "assistant"
    assert all(c.role == "" for c in chunks[1:])
    assert all(c.model.name == "chat" for c in chunks)
    assert [bool(c.finish_reason) for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert "".join(c.text for c in chunks) == whole.message.content
    assert chunks[-1].finish_reason == whole.finish_reason
    assert chunks[-1].usage == whole.usage
    assert len(chunks) > 2


def test_a_reply_ends_at_the_templates_end_of_turn_token(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    """The rigged model always predicts `<|im_end|>`: Chat stops there (an empty reply,
    finish EOS); Generate, which knows only end-of-sequence, runs to its length."""
    answer = stub.Chat(chat_request("ending", [("user", "hello")], max_new_tokens=8), timeout=60)
    assert answer.finish_reason == nlp_pb2.FINISH_REASON_EOS
    assert answer.usage.output_tokens == 0
    assert answer.message.content == ""
    generated = stub.Generate(
        nlp_pb2.GenerateRequest(
            model=common_pb2.ModelRef(name="ending"),
            prompts=["hello"],
            parameters=nlp_pb2.GenerationParameters(max_new_tokens=8),
        ),
        timeout=60,
    )
    assert generated.generations[0].finish_reason == nlp_pb2.FINISH_REASON_LENGTH
    assert generated.generations[0].usage.output_tokens == 8


@pytest.mark.parametrize(
    ("messages", "field", "says"),
    [
        ([], "messages", "at least one message"),
        ([("user", "hi"), ("robot", "beep")], "messages[1].role", "is 'robot'; must be one of"),
        ([("User", "hi")], "messages[0].role", "is 'User'"),
        ([("system", "be brief"), ("user", " ")], "messages[1].content", "is empty"),
        ([("user", "hi"), ("system", "late")], "messages", "a system message must come first"),
    ],
)
def test_bad_conversations_name_the_field(
    stub: nlp_pb2_grpc.NlpServiceStub, messages: list[tuple[str, str]], field: str, says: str
) -> None:
    request = chat_request("chat", messages, max_new_tokens=4)
    for call in (
        lambda: stub.Chat(request, timeout=10),
        lambda: list(stub.ChatStream(request, timeout=10)),
    ):
        err = rpc_error(call)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (err.details() or "").startswith(f"{field}:"), err.details()
        assert says in (err.details() or "")


def test_an_empty_assistant_message_and_bad_parameters(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    messages = [("user", "the cat"), ("assistant", ""), ("user", "the dog")]
    assert stub.Chat(chat_request("chat", messages, max_new_tokens=2), timeout=30).usage
    err = rpc_error(lambda: stub.Chat(chat_request("chat", messages, top_p=1.5), timeout=10))
    assert (err.details() or "").startswith("parameters.top_p:")


def test_a_model_without_a_chat_template_is_a_failed_precondition(
    stub: nlp_pb2_grpc.NlpServiceStub, channel: grpc.Channel
) -> None:
    for call in (
        lambda: stub.Chat(chat_request("plain", [("user", "hi")]), timeout=10),
        lambda: list(stub.ChatStream(chat_request("plain", [("user", "hi")]), timeout=10)),
    ):
        err = rpc_error(call)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "model 'plain' has no chat template" in (err.details() or "")
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    listed = registry.ListModels(registry_pb2.ListModelsRequest(), timeout=10)
    templates = {m.name: m.versions[0].metadata.get("chat_template") for m in listed.models}
    assert templates["plain"] == "false"
    assert templates["chat"] == "true"


def test_a_conversation_over_the_context_says_how_many_new_tokens_fit(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    messages = [("user", "the cat sat on the mat")]
    err = rpc_error(
        lambda: stub.Chat(chat_request("chat-short", messages, max_new_tokens=20), timeout=10)
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    found = re.fullmatch(
        r"messages: the conversation \(chat template applied\) has (\d+) tokens; the model's "
        r"context of 32 tokens leaves room for (\d+) new tokens, but max_new_tokens is 20: "
        r"ask for at most \2, or shorten the conversation",
        err.details() or "",
    )
    assert found, err.details()
    assert int(found[1]) + int(found[2]) == 32
    fits = stub.Chat(chat_request("chat-short", messages, max_new_tokens=int(found[2])), timeout=30)
    assert fits.usage.input_tokens == int(found[1])
    assert fits.usage.output_tokens <= int(found[2])
    # left to the model's default, the reply is cut to what the conversation leaves
    default = stub.Chat(chat_request("chat-short", messages), timeout=30)
    assert default.usage.input_tokens + default.usage.output_tokens <= 32
    err = rpc_error(lambda: stub.Chat(chat_request("chat-short", messages * 4), timeout=10))
    assert "has no room for new tokens: shorten it" in (err.details() or "")


def test_a_cancelled_chat_stream_frees_its_slot_for_a_waiting_generation(
    server: InferenceServer, stub: nlp_pb2_grpc.NlpServiceStub
) -> None:
    """ "chat-one" has one decoding slot, shared by chats and generations: a generation
    queued behind a streaming chat runs as soon as the chat is cancelled."""
    request = chat_request("chat-one", [("user", "the cat")], max_new_tokens=90)
    whole = stub.Chat(request, timeout=60)
    assert whole.usage.output_tokens == 90  # uncancelled, the reply runs to its length
    before = metric(server, "modelport_generated_tokens_total", "chat-one")
    long = stub.ChatStream(request, timeout=60)
    first = next(long)  # type: ignore[call-overload]
    assert first.role == "assistant"
    waiting = stub.Generate.future(
        nlp_pb2.GenerateRequest(
            model=common_pb2.ModelRef(name="chat-one"),
            prompts=["the cat"],
            parameters=nlp_pb2.GenerationParameters(max_new_tokens=3),
        ),
        timeout=60,
    )
    deadline = time.monotonic() + 10
    while metric(server, "modelport_queue_depth", "chat-one") < 1 and not waiting.done():
        assert time.monotonic() < deadline, "the generation never queued"
        time.sleep(0.002)
    long.cancel()  # type: ignore[no-untyped-call]
    assert waiting.result().generations[0].usage.output_tokens > 0
    deadline = time.monotonic() + 10
    while metric(server, "modelport_generation_running", "chat-one") > 0:
        assert time.monotonic() < deadline, "the cancelled chat kept its decoding slot"
        time.sleep(0.01)
    generated = metric(server, "modelport_generated_tokens_total", "chat-one")
    time.sleep(0.2)
    assert metric(server, "modelport_generated_tokens_total", "chat-one") == generated
    assert generated - before < 90 + 3  # the chat stopped early, the generation ran


def test_concurrent_chats_share_forward_passes(
    server: InferenceServer, stub: nlp_pb2_grpc.NlpServiceStub
) -> None:
    alone = stub.Chat(chat_request("chat", CONVERSATION, max_new_tokens=30), timeout=60)
    steps = metric(server, "modelport_generation_steps_total", "chat")
    results: list[nlp_pb2.ChatResponse] = []

    def run() -> None:
        results.append(stub.Chat(chat_request("chat", CONVERSATION, max_new_tokens=30), timeout=60))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.message.content for r in results] == [alone.message.content] * 3
    # three replies of n tokens each took fewer than 3 n decoding steps: they were batched
    taken = metric(server, "modelport_generation_steps_total", "chat") - steps
    assert taken < 3 * (alone.usage.output_tokens - 1)


def test_the_router_forwards_chat_and_a_cancelled_stream_frees_the_backends_slot(
    server: InferenceServer, stub: nlp_pb2_grpc.NlpServiceStub, router: str
) -> None:
    direct = stub.Chat(chat_request("chat", CONVERSATION, max_new_tokens=12), timeout=60)
    with grpc.insecure_channel(router) as channel:
        routed = nlp_pb2_grpc.NlpServiceStub(channel)
        answer = routed.Chat(chat_request("chat", CONVERSATION, max_new_tokens=12), timeout=60)
        assert answer.message == direct.message
        assert answer.usage == direct.usage
        chunks = list(
            routed.ChatStream(chat_request("chat", CONVERSATION, max_new_tokens=12), timeout=60)
        )
        assert chunks[0].role == "assistant"
        assert "".join(c.text for c in chunks) == direct.message.content
        err = rpc_error(lambda: routed.Chat(chat_request("plain", [("user", "hi")]), timeout=10))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        err = rpc_error(lambda: routed.Chat(chat_request("chat", [("bot", "hi")]), timeout=10))
        assert (err.details() or "").startswith("messages[0].role:")

        # cancelling at the client cancels the router's call to the backend, whose decoding
        # loop drops the reply at its next step
        request = chat_request("chat-one", [("user", "the cat")], max_new_tokens=90)
        before = metric(server, "modelport_generated_tokens_total", "chat-one")
        stream = routed.ChatStream(request, timeout=60)
        assert next(stream).role == "assistant"  # type: ignore[call-overload]
        stream.cancel()  # type: ignore[no-untyped-call]
        deadline = time.monotonic() + 10
        while metric(server, "modelport_generation_running", "chat-one") > 0:
            assert time.monotonic() < deadline, "the backend kept decoding a cancelled chat"
            time.sleep(0.01)
        generated = metric(server, "modelport_generated_tokens_total", "chat-one")
        assert generated - before < 90  # uncancelled, it runs to 90 (the test above)


def test_the_python_client_and_the_cli_chat(
    server: InferenceServer,
    stub: nlp_pb2_grpc.NlpServiceStub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = f"127.0.0.1:{server.port}"
    messages = [("system", "be brief"), ("user", "the cat sat")]
    expected = stub.Chat(chat_request("chat", messages, max_new_tokens=6), timeout=60)
    with ModelportClient(target) as client:
        reply = client.chat("the cat sat", system="be brief", model="chat", max_new_tokens=6)
        chunks = list(client.chat_stream(messages, model="chat", max_new_tokens=6))
    assert (reply.role, reply.text, reply.model) == ("assistant", expected.message.content, "chat")
    assert (reply.input_tokens, reply.output_tokens) == (
        expected.usage.input_tokens,
        expected.usage.output_tokens,
    )
    assert "".join(c.text for c in chunks) == reply.text
    assert chunks[-1].finish_reason == reply.finish_reason

    argv = ["chat", "--target", target, "--model", "chat", "--max-new-tokens", "6"]
    assert cli.main([*argv, "--system", "be brief", "--json", "the cat sat"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["message"] == {"role": "assistant", "content": reply.text}
    assert printed["model"] == "chat"
    assert printed["finish_reason"] == reply.finish_reason
    assert printed["usage"]["input_tokens"] == reply.input_tokens
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"the cat sat")))
    assert cli.main([*argv, "--system", "be brief", "--stream", "-"]) == 0
    assert capsys.readouterr().out == reply.text + "\n"
    assert cli.main([*argv, "--model", "plain", "hi"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "model 'plain' has no chat template" in err
    assert "`modelport generate --model plain` calls it" in err
