"""The NLP service on loopback: every RPC through real stubs, with tiny random models
built in fixtures and the real MiniLM behind the label-prototype sentiment classifier."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from modelport.inference.server import InferenceServer
from modelport.inference.settings import GenerationSettings, ModelSpec
from modelport.nlp.__main__ import SENTIMENT_EXAMPLES, build
from modelport.nlp.generate import GenerativeModel
from modelport.nlp.settings import (
    CausalLMSpec,
    GenerativeOptions,
    NlpSettings,
    PrototypeOptions,
    PrototypeSpec,
)
from modelport.oip.v2 import open_inference_pb2, open_inference_pb2_grpc
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.helpers import rpc_error, running_server

PROMPTS = ["the cat sat", "kubernetes schedules pods on nodes and the dog runs", "a"]


@pytest.fixture(scope="module")
def server(
    tiny_gpt2_dir: Path,
    tiny_t5_dir: Path,
    tiny_classifier_dir: Path,
    tiny_ner_dir: Path,
    minilm_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[InferenceServer]:
    generation = GenerationSettings(max_new_tokens=256, max_running=4)
    models = [
        ModelSpec(name="gpt", runtime="hf-causal-lm", path=tiny_gpt2_dir, generation=generation),
        CausalLMSpec(name="short", path=tiny_gpt2_dir, options=GenerativeOptions(max_context=24)),
        ModelSpec(
            name="one",
            runtime="hf-causal-lm",
            path=tiny_gpt2_dir,
            generation=GenerationSettings(max_running=1, max_waiting=2),
        ),
        ModelSpec(name="t5", runtime="hf-seq2seq", path=tiny_t5_dir, generation=generation),
        ModelSpec(name="cls", runtime="hf-sequence-classification", path=tiny_classifier_dir),
        ModelSpec(name="ner", runtime="hf-token-classification", path=tiny_ner_dir),
        PrototypeSpec(
            name="sentiment", path=minilm_dir, options=PrototypeOptions(labels=SENTIMENT_EXAMPLES)
        ),
        ModelSpec(
            name="cls-torch",
            runtime="hf-sequence-classification",
            path=tiny_classifier_dir,
            engine="torch",
        ),
        ModelSpec(
            name="ner-torch", runtime="hf-token-classification", path=tiny_ner_dir, engine="torch"
        ),
    ]
    settings = NlpSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        cache_dir=tmp_path_factory.mktemp("cache"),  # exports go to a cache of this module's
    )
    with running_server(build, settings, models) as srv:
        yield srv


@pytest.fixture(scope="module")
def stub(server: InferenceServer) -> Iterator[nlp_pb2_grpc.NlpServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield nlp_pb2_grpc.NlpServiceStub(channel)


def ref(name: str, version: str = "") -> common_pb2.ModelRef:
    return common_pb2.ModelRef(name=name, version=version)


def gen_request(model: str, prompts: list[str], **params: Any) -> nlp_pb2.GenerateRequest:
    return nlp_pb2.GenerateRequest(
        model=ref(model), prompts=prompts, parameters=nlp_pb2.GenerationParameters(**params)
    )


def hf_greedy(path: Path, prompt: str, tokens: int, seq2seq: bool = False) -> str:
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(path)
    inputs = tokenizer(prompt, return_tensors="pt")
    out = model.eval().generate(**inputs, max_new_tokens=tokens, do_sample=False)
    ids = out[0] if seq2seq else out[0, inputs["input_ids"].shape[1] :]
    return str(tokenizer.decode(ids, skip_special_tokens=True))


def metric(server: InferenceServer, name: str, model: str) -> float:
    return server.metrics.registry.get_sample_value(name, {"model": model}) or 0.0


# -- classification ---------------------------------------------------------------------
def test_prototype_sentiment_on_minilm(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    texts = [
        "I love this",
        "This is awful, a total waste",
        "Absolutely wonderful service",
        "I am so disappointed, it broke after a day",
    ]
    response = stub.Classify(
        nlp_pb2.ClassifyRequest(model=ref("sentiment"), inputs=texts), timeout=30
    )
    best = [r.labels[0].label for r in response.results]
    assert best == ["positive", "negative", "positive", "negative"]
    for result in response.results:
        assert abs(sum(label.score for label in result.labels) - 1.0) < 1e-5
    assert response.results[0].labels[0].score > 0.5


def test_hf_classifier_softmax_top_k_and_labels(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    response = stub.Classify(nlp_pb2.ClassifyRequest(model=ref("cls"), inputs=PROMPTS), timeout=30)
    for result in response.results:
        assert {label.label for label in result.labels} == {"negative", "neutral", "positive"}
        assert abs(sum(label.score for label in result.labels) - 1.0) < 1e-5
        scores = [label.score for label in result.labels]
        assert scores == sorted(scores, reverse=True)
    top1 = stub.Classify(
        nlp_pb2.ClassifyRequest(model=ref("cls"), inputs=PROMPTS, top_k=1), timeout=30
    )
    assert [len(r.labels) for r in top1.results] == [1, 1, 1]
    assert [r.labels[0].label for r in top1.results] == [
        r.labels[0].label for r in response.results
    ]
    assert response.usage.input_tokens > 0


def test_token_classification_offsets_index_the_input(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    texts = ["Ada Lovelace visited Zürich and the park", "the dog runs"]
    for aggregation in (
        nlp_pb2.AGGREGATION_NONE,
        nlp_pb2.AGGREGATION_SIMPLE,
        nlp_pb2.AGGREGATION_FIRST,
        nlp_pb2.AGGREGATION_AVERAGE,
    ):
        response = stub.ClassifyTokens(
            nlp_pb2.ClassifyTokensRequest(model=ref("ner"), inputs=texts, aggregation=aggregation),
            timeout=30,
        )
        assert len(response.results) == 2
        for text, result in zip(texts, response.results, strict=True):
            for entity in result.entities:
                assert text[entity.start : entity.end] == entity.text
                assert 0.0 < entity.score <= 1.0
                assert entity.label != "O"
    strict = stub.ClassifyTokens(
        nlp_pb2.ClassifyTokensRequest(model=ref("ner"), inputs=texts, min_score=0.99), timeout=30
    )
    assert all(e.score >= 0.99 for r in strict.results for e in r.entities)


def test_encoders_run_on_onnx_runtime_and_score_as_torch_does(
    server: InferenceServer, stub: nlp_pb2_grpc.NlpServiceStub
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        listed = registry.ListModels(registry_pb2.ListModelsRequest(), timeout=5).models
    engines = {m.name: m.versions[0].metadata.get("engine") for m in listed}
    assert engines["cls"] == engines["ner"] == engines["sentiment"] == "onnxruntime"
    assert engines["cls-torch"] == engines["ner-torch"] == "torch"
    assert engines["gpt"] is None  # generation has no engine choice (torch)

    def scores(model: str) -> list[dict[str, float]]:
        request = nlp_pb2.ClassifyRequest(model=ref(model), inputs=PROMPTS)
        results = stub.Classify(request, timeout=30).results
        return [{label.label: label.score for label in r.labels} for r in results]

    for onnx, eager in zip(scores("cls"), scores("cls-torch"), strict=True):
        assert onnx.keys() == eager.keys()
        for label, score in onnx.items():
            assert score == pytest.approx(eager[label], abs=1e-5)

    def entities(model: str) -> list[list[tuple[str, int, int, float]]]:
        request = nlp_pb2.ClassifyTokensRequest(
            model=ref(model), inputs=PROMPTS, aggregation=nlp_pb2.AGGREGATION_NONE
        )
        results = stub.ClassifyTokens(request, timeout=30).results
        return [[(e.label, e.start, e.end, e.score) for e in r.entities] for r in results]

    for onnx_row, eager_row in zip(entities("ner"), entities("ner-torch"), strict=True):
        assert [e[:3] for e in onnx_row] == [e[:3] for e in eager_row]
        assert [e[3] for e in onnx_row] == pytest.approx([e[3] for e in eager_row], abs=1e-5)


# -- generation ---------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "seq2seq"), [("gpt", False), ("t5", True)])
def test_generate_equals_transformers_greedy(
    stub: nlp_pb2_grpc.NlpServiceStub,
    tiny_gpt2_dir: Path,
    tiny_t5_dir: Path,
    model: str,
    seq2seq: bool,
) -> None:
    path = tiny_t5_dir if seq2seq else tiny_gpt2_dir
    response = stub.Generate(gen_request(model, PROMPTS, max_new_tokens=16), timeout=60)
    for prompt, generation in zip(PROMPTS, response.generations, strict=True):
        assert generation.text == hf_greedy(path, prompt, 16, seq2seq)
        assert generation.usage.output_tokens <= 16
        assert generation.finish_reason in (nlp_pb2.FINISH_REASON_LENGTH, nlp_pb2.FINISH_REASON_EOS)
    assert response.usage.output_tokens == sum(g.usage.output_tokens for g in response.generations)


def test_concurrent_streams_match_alone_and_share_forward_passes(
    server: InferenceServer,
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    alone = [
        stub.Generate(gen_request("gpt", [p], max_new_tokens=24), timeout=60).generations[0].text
        for p in PROMPTS
    ]
    steps_before = metric(server, "modelport_generation_steps_total", "gpt")
    texts: dict[int, str] = {}

    def run(i: int) -> None:
        chunks = stub.GenerateStream(
            gen_request("gpt", [PROMPTS[i]], max_new_tokens=24), timeout=60
        )
        texts[i] = "".join(c.text for c in chunks)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(PROMPTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [texts[i] for i in range(len(PROMPTS))] == alone
    steps = metric(server, "modelport_generation_steps_total", "gpt") - steps_before
    assert steps < 0.75 * 3 * 23, f"{steps} decode steps for 3 concurrent streams"


def test_stream_sends_chunks_and_a_final_usage(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    chunks = list(
        stub.GenerateStream(gen_request("gpt", PROMPTS[:2], max_new_tokens=10), timeout=60)
    )
    finals = [c for c in chunks if c.finish_reason]
    assert sorted(c.index for c in finals) == [0, 1]
    assert all(c.usage.output_tokens <= 10 for c in finals)
    assert len(chunks) > 4
    assert all(c.model.name == "gpt" for c in chunks)


def test_cancelled_stream_frees_its_slot_and_others_are_unaffected(
    server: InferenceServer,
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    expected = stub.Generate(gen_request("gpt", [PROMPTS[1]], max_new_tokens=40), timeout=60)
    long_stream = stub.GenerateStream(
        gen_request("gpt", [PROMPTS[0]], max_new_tokens=120), timeout=60
    )
    first = next(long_stream)  # type: ignore[call-overload]
    assert first.text
    other = stub.Generate.future(gen_request("gpt", [PROMPTS[1]], max_new_tokens=40), timeout=60)
    long_stream.cancel()  # type: ignore[no-untyped-call]
    deadline = time.monotonic() + 10
    while metric(server, "modelport_generation_running", "gpt") > 0 or not other.done():
        assert time.monotonic() < deadline, "the cancelled sequence kept its decoding slot"
        time.sleep(0.01)
    assert other.result().generations[0].text == expected.generations[0].text
    generated = metric(server, "modelport_generated_tokens_total", "gpt")
    time.sleep(0.2)
    assert metric(server, "modelport_generated_tokens_total", "gpt") == generated


def test_waiting_generations_move_the_queue_depth_gauge(
    server: InferenceServer, stub: nlp_pb2_grpc.NlpServiceStub
) -> None:
    """The chart's KEDA trigger scales on `modelport_queue_depth`: generations waiting for
    a decoding slot count in it, and the model's `max_waiting` refuses more at once."""
    rejected = metric(server, "modelport_rejected_total", "one")
    err = rpc_error(
        lambda: stub.Generate(gen_request("one", ["a", "b", "c"], max_new_tokens=4), timeout=10)
    )
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # 3 > max_waiting of "one"
    assert "model 'one' is overloaded" in (err.details() or "")
    assert metric(server, "modelport_rejected_total", "one") == rejected + 3
    long = stub.GenerateStream(gen_request("one", [PROMPTS[0]], max_new_tokens=120), timeout=60)
    assert next(long).text  # type: ignore[call-overload]  # holds the only decoding slot
    waiting = stub.Generate.future(gen_request("one", ["a", "b"], max_new_tokens=4), timeout=60)
    deadline = time.monotonic() + 10
    while metric(server, "modelport_queue_depth", "one") < 2:
        assert not waiting.done(), "the long generation ended before the gauge was read"
        assert time.monotonic() < deadline, "waiting generations are not in the queue depth"
        time.sleep(0.002)
    long.cancel()  # type: ignore[no-untyped-call]
    assert len(waiting.result().generations) == 2
    assert metric(server, "modelport_queue_depth", "one") == 0


class RecordingTokenizer:
    """A model's tokenizer that records the thread and the length of each decode."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.decodes: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._tokenizer(*args, **kwargs)

    def decode(self, ids: Any, **kwargs: Any) -> Any:
        self.decodes.append((threading.current_thread().name, len(ids)))
        return self._tokenizer.decode(ids, **kwargs)


def test_text_is_decoded_incrementally_on_the_model_thread(
    server: InferenceServer, stub: nlp_pb2_grpc.NlpServiceStub
) -> None:
    """Each step decodes a few tokens on the model's worker thread, never the whole
    sequence on the event loop."""
    model = server.repository.get("one").model
    assert isinstance(model, GenerativeModel)
    tokenizer = model.tokenizer
    model.tokenizer = recording = RecordingTokenizer(tokenizer)
    try:
        request = gen_request("one", [PROMPTS[0]], max_new_tokens=60)
        generation = stub.Generate(request, timeout=60).generations[0]
    finally:
        model.tokenizer = tokenizer
    assert generation.usage.output_tokens >= 20
    assert {thread for thread, _ in recording.decodes} == {"model-one_0"}
    assert max(n for _, n in recording.decodes) < generation.usage.output_tokens / 2


def test_stop_sequence_cuts_the_text(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    full = (
        stub.Generate(gen_request("gpt", [PROMPTS[1]], max_new_tokens=20), timeout=60)
        .generations[0]
        .text
    )
    stop = full[4:7]
    assert stop, full
    cut = stub.Generate(
        gen_request("gpt", [PROMPTS[1]], max_new_tokens=20, stop=[stop]), timeout=60
    ).generations[0]
    assert cut.text == full[: full.find(stop)]
    assert cut.finish_reason == nlp_pb2.FINISH_REASON_STOP_SEQUENCE
    streamed = "".join(
        c.text
        for c in stub.GenerateStream(
            gen_request("gpt", [PROMPTS[1]], max_new_tokens=20, stop=[stop]), timeout=60
        )
    )
    assert streamed == cut.text


def test_sampling_is_reproducible_with_a_seed(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    def sample(seed: int) -> str:
        request = gen_request(
            "gpt",
            [PROMPTS[0]],
            max_new_tokens=16,
            do_sample=True,
            temperature=1.5,
            top_p=0.95,
            top_k=50,
            seed=seed,
            repetition_penalty=1.2,
        )
        return stub.Generate(request, timeout=60).generations[0].text

    assert sample(7) == sample(7)
    assert len({sample(s) for s in range(6)}) > 1


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (gen_request("gpt", []), "prompts"),
        (gen_request("gpt", ["ok", ""]), "prompts[1]"),
        (gen_request("gpt", ["x"], max_new_tokens=1000), "parameters.max_new_tokens"),
        (gen_request("gpt", ["x"], temperature=0.0, do_sample=True), "parameters.temperature"),
        (gen_request("gpt", ["x"], top_p=1.5), "parameters.top_p"),
        (gen_request("gpt", ["x"], repetition_penalty=-1.0), "parameters.repetition_penalty"),
        (gen_request("gpt", ["x"], stop=[""]), "parameters.stop[0]"),
        (gen_request("short", ["the cat sat on the mat " * 3], max_new_tokens=10), "prompts[0]"),
    ],
)
def test_bad_generation_requests_name_the_field(
    stub: nlp_pb2_grpc.NlpServiceStub, request_: nlp_pb2.GenerateRequest, field: str
) -> None:
    for call in (
        lambda: stub.Generate(request_, timeout=10),
        lambda: list(stub.GenerateStream(request_, timeout=10)),
    ):
        err = rpc_error(call)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (err.details() or "").startswith(f"{field}:"), err.details()


def test_prompt_over_the_context_says_how_many_new_tokens_fit(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    prompt = "the cat sat on the mat " * 3
    err = rpc_error(
        lambda: stub.Generate(gen_request("short", [prompt], max_new_tokens=10), timeout=10)
    )
    found = re.fullmatch(
        r"prompts\[0\]: has (\d+) tokens; the model's context of 24 tokens leaves room for "
        r"(\d+) new tokens, but max_new_tokens is 10: ask for at most \2, or shorten the prompt",
        err.details() or "",
    )
    assert found, err.details()
    assert int(found[1]) + int(found[2]) == 24
    # what the message says fits, fits
    fits = stub.Generate(gen_request("short", [prompt], max_new_tokens=int(found[2])), timeout=30)
    assert fits.generations[0].usage.output_tokens <= int(found[2])


def test_new_tokens_are_limited_by_the_context_and_the_default_is_cut_to_fit(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    # "short": context 24, so at most 23 new tokens (a prompt has at least one token)
    err = rpc_error(
        lambda: stub.Generate(gen_request("short", ["a"], max_new_tokens=24), timeout=10)
    )
    assert err.details() == (
        "parameters.max_new_tokens: is 24; this model generates at most 23 new tokens "
        "(its context of 24 tokens holds the prompt too)"
    )
    err = rpc_error(lambda: stub.Generate(gen_request("t5", ["a"], max_new_tokens=257), timeout=10))
    assert err.details() == (
        "parameters.max_new_tokens: is 257; this model generates at most 256 new tokens "
        "(its configured limit)"
    )
    # max_new_tokens left unset: the model's default (64), cut to what the prompt leaves
    prompt = "the cat sat on the mat " * 3
    answer = stub.Generate(gen_request("short", [prompt]), timeout=30).generations[0]
    assert answer.usage.input_tokens + answer.usage.output_tokens <= 24
    err = rpc_error(lambda: stub.Generate(gen_request("short", [prompt * 3]), timeout=10))
    assert "has no room for new tokens: shorten it" in (err.details() or "")


def test_classify_bad_input(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    err = rpc_error(
        lambda: stub.Classify(nlp_pb2.ClassifyRequest(model=ref("cls"), inputs=[""]), timeout=10)
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = rpc_error(
        lambda: stub.Classify(nlp_pb2.ClassifyRequest(model=ref("gpt"), inputs=["x"]), timeout=10)
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == (
        "model 'gpt' is a text-generation model: call modelport.v1.NlpService/Generate or "
        "GenerateStream or Chat or ChatStream (NlpService/Classify serves text-classification "
        "models)"
    )
    for call in (
        lambda: stub.Generate(gen_request("cls", ["x"]), timeout=10),
        lambda: list(stub.GenerateStream(gen_request("cls", ["x"]), timeout=10)),
    ):
        err = rpc_error(call)
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "'cls' is a text-classification model: call modelport.v1.NlpService/Classify" in (
            err.details() or ""
        )
    err = rpc_error(
        lambda: stub.ClassifyTokens(
            nlp_pb2.ClassifyTokensRequest(model=ref("ner"), inputs=["x"], min_score=2.0), timeout=10
        )
    )
    assert (err.details() or "").startswith("min_score:")
    assert np.isfinite(1.0)


@pytest.mark.parametrize(
    ("model", "parameter", "field"),
    [
        ("gpt", "max_new_tokens", "parameters.max_new_tokens"),
        ("gpt", "top_k", "parameters.top_k"),
        ("cls", "top_k", "top_k"),
    ],
)
def test_negative_oip_parameters_name_the_field(
    server: InferenceServer, model: str, parameter: str, field: str
) -> None:
    request = open_inference_pb2.ModelInferRequest(model_name=model)
    tensor = request.inputs.add(
        name="prompt" if model == "gpt" else "text", datatype="BYTES", shape=[1]
    )
    tensor.contents.bytes_contents.append(b"the cat")
    request.parameters[parameter].int64_param = -1
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        oip = open_inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        err = rpc_error(lambda: oip.ModelInfer(request, timeout=10))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (err.details() or "").startswith(f"{field}: must be >= 0"), err.details()


def test_a_tiny_temperature_samples_like_greedy(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    """1e-40 is below float32's normal range: scaled logits overflow. The call (and any
    sequence decoded in the same step) still succeeds, with the greedy tokens."""
    greedy = stub.Generate(gen_request("gpt", [PROMPTS[0]], max_new_tokens=8), timeout=60)
    tiny = stub.Generate(
        gen_request(
            "gpt",
            [PROMPTS[0], PROMPTS[1]],
            max_new_tokens=8,
            do_sample=True,
            temperature=1e-40,
            repetition_penalty=1e-40,
            seed=3,
        ),
        timeout=60,
    )
    assert len(tiny.generations) == 2
    plain = stub.Generate(
        gen_request(
            "gpt", [PROMPTS[0]], max_new_tokens=8, do_sample=True, temperature=1e-40, seed=3
        ),
        timeout=60,
    )
    assert plain.generations[0].text == greedy.generations[0].text
