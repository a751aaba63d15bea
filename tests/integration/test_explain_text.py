"""NlpService/Explain on a real NLP server with the default suite's two sentiment models
(label prototypes on MiniLM, spaCy's textcat): the attributions carry the signal a reader
expects, the offsets are exact, the explanation queue sheds load without touching
inference, and deadlines and cancellation stop the work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec
from modelport.nlp.__main__ import build, default_models
from modelport.nlp.settings import NlpSettings
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc
from tests.helpers import rpc_error, running_server

pytestmark = pytest.mark.slow

IG = common_pb2.EXPLAIN_METHOD_INTEGRATED_GRADIENTS
OCCLUSION = common_pb2.EXPLAIN_METHOD_OCCLUSION
FUNCTION_WORDS = {"the", "a", "this", "was", "is", "it", "and", "i", "of"}
CASES = [
    ("The food was wonderful.", {"wonderful"}, "positive"),
    ("It was a great movie and I enjoyed it.", {"great", "enjoyed"}, "positive"),
    ("The staff was rude and the room was dirty.", {"rude", "dirty"}, "negative"),
]
"""Each case's label and its sentiment words: the word with the highest attribution is one
of them, and the strongest of them outranks every function word."""
LONG = "The service was slow but the staff were kind and the room was clean. " * 40
"""Hundreds of tokens: an explanation of it with many steps takes many pieces."""
SLOW_STEPS = 512
POLL_S = 60.0


@pytest.fixture(scope="module")
def server(tiny_classifier_dir: Path) -> Iterator[InferenceServer]:
    models = [m for m in default_models() if m.name in ("sentiment", "sentiment-spacy")]
    models.append(
        ModelSpec(name="cls", runtime="hf-sequence-classification", path=tiny_classifier_dir)
    )
    settings = NlpSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        explain_max_running=1,
        explain_max_waiting=0,
        explain_max_steps=SLOW_STEPS,
    )
    with running_server(build, settings, models) as server:
        yield server


@pytest.fixture(scope="module")
def stub(server: InferenceServer) -> Iterator[nlp_pb2_grpc.NlpServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield nlp_pb2_grpc.NlpServiceStub(channel)


def explain(
    stub: nlp_pb2_grpc.NlpServiceStub, model: str, text: str, **fields: object
) -> nlp_pb2.ExplainTextResponse:
    request = nlp_pb2.ExplainTextRequest(
        model=common_pb2.ModelRef(name=model),
        input=text,
        **fields,  # type: ignore[arg-type]
    )
    response: nlp_pb2.ExplainTextResponse = stub.Explain(request, timeout=300)
    return response


def by_word(response: nlp_pb2.ExplainTextResponse) -> dict[str, float]:
    """Each word's attribution (its tokens summed), by its lower-cased text."""
    words: dict[int, tuple[str, float]] = {}
    for t in response.tokens:
        if not t.special:
            text, value = words.get(t.word_index, ("", 0.0))
            words[t.word_index] = (text + t.text, value + t.attribution)
    return {text.lower(): value for text, value in words.values()}


@pytest.mark.parametrize(
    ("model", "method"),
    [("sentiment", IG), ("sentiment", OCCLUSION), ("sentiment-spacy", OCCLUSION)],
)
def test_the_sentiment_word_outranks_function_words(
    stub: nlp_pb2_grpc.NlpServiceStub, model: str, method: int
) -> None:
    for text, sentiment, label in CASES:
        response = explain(stub, model, text, method=method)
        assert response.target_label == label
        words = by_word(response)
        assert max(words, key=lambda w: words[w]) in sentiment, (text, words)
        strongest = max(words[w] for w in sentiment)
        assert all(strongest > words[w] for w in words.keys() & FUNCTION_WORDS), words


def test_explaining_the_other_label_turns_the_sentiment_word_negative(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    predicted = explain(stub, "sentiment", "The food was wonderful.")
    other = explain(stub, "sentiment", "The food was wonderful.", target_label="negative")
    assert predicted.target_label == "positive"
    assert other.target_label == "negative"
    assert other.target_score == pytest.approx(1 - predicted.target_score, abs=1e-5)
    assert by_word(other)["wonderful"] < 0 < by_word(predicted)["wonderful"]


def test_tokens_carry_exact_offsets_and_word_indices(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    text = "Café déjà vu 🙂, un-believably GOOD!"
    for model in ("sentiment", "sentiment-spacy"):
        response = explain(stub, model, text, method=OCCLUSION)
        tokens = [t for t in response.tokens if not t.special]
        assert tokens
        for t in tokens:
            assert text[t.start : t.end] == t.text
        words = [t.word_index for t in tokens]
        assert words == sorted(words)
        assert response.usage.input_tokens == len(response.tokens)
    specials = [t for t in explain(stub, "sentiment", text).tokens if t.special]
    assert [t.token for t in specials] == ["[CLS]", "[SEP]"]
    assert all(t.word_index == -1 and t.attribution == 0 for t in specials)


def test_integrated_gradients_reports_its_convergence_delta(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    ig = explain(stub, "sentiment", "The food was wonderful.", steps=128)
    assert ig.method == IG
    assert ig.steps == 128
    assert ig.baseline == common_pb2.BASELINE_PAD
    assert ig.forward_passes == 130
    assert ig.HasField("convergence_delta")
    assert abs(ig.convergence_delta) < 0.1
    zero = explain(stub, "sentiment", "The food was wonderful.", baseline=common_pb2.BASELINE_ZERO)
    assert zero.baseline == common_pb2.BASELINE_ZERO
    occluded = explain(stub, "sentiment", "The food was wonderful.", method=OCCLUSION)
    assert not occluded.HasField("convergence_delta")
    spacy = explain(stub, "sentiment-spacy", "The food was wonderful.")
    assert spacy.method == OCCLUSION  # its default: spaCy has no gradients here


@pytest.mark.parametrize("method", [IG, OCCLUSION])
def test_a_transformers_sequence_classifier_is_explained_too(
    stub: nlp_pb2_grpc.NlpServiceStub, method: common_pb2.ExplainMethod.ValueType
) -> None:
    """`hf-sequence-classification` (a tiny BERT): the explained label's score is the one
    Classify gives, and the tokens cover the text."""
    text = "the cat sat on the mat"
    classified = stub.Classify(
        nlp_pb2.ClassifyRequest(model=common_pb2.ModelRef(name="cls"), inputs=[text]), timeout=60
    )
    best = classified.results[0].labels[0]
    response = explain(stub, "cls", text, method=method)
    assert response.method == method
    assert response.target_label == best.label
    assert response.target_score == pytest.approx(best.score, abs=1e-4)
    tokens = [t for t in response.tokens if not t.special]
    covered = {i for t in tokens for i in range(t.start, t.end)}
    assert covered == {i for i, c in enumerate(text) if not c.isspace()}
    assert all(text[t.start : t.end] == t.text for t in tokens)
    assert response.HasField("convergence_delta") == (method == IG)
    assert any(t.attribution != 0 for t in tokens)


@pytest.mark.parametrize(
    ("model", "fields", "field"),
    [
        ("sentiment", {"input": ""}, "input"),
        ("sentiment", {"input": "   "}, "input"),
        ("sentiment", {"steps": SLOW_STEPS + 1}, "steps"),
        ("sentiment", {"baseline": common_pb2.BASELINE_BLACK}, "baseline"),
        ("sentiment", {"target_label": "neutral"}, "target_label"),
        ("sentiment", {"method": 7}, "method"),
        ("sentiment-spacy", {"method": IG}, "method"),
    ],
)
def test_bad_requests_name_the_field(
    stub: nlp_pb2_grpc.NlpServiceStub, model: str, fields: dict[str, object], field: str
) -> None:
    request = nlp_pb2.ExplainTextRequest(
        model=common_pb2.ModelRef(name=model),
        **{"input": "The food was wonderful.", **fields},  # type: ignore[arg-type]
    )
    error = rpc_error(lambda: stub.Explain(request, timeout=60))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(f"{field}: ")


def pieces(server: InferenceServer) -> int:
    return server.repository.get("sentiment", "").batcher.idle_pieces_run


def until_accepted(stub: nlp_pb2_grpc.NlpServiceStub) -> nlp_pb2.ExplainTextResponse:
    """A one-step explanation, retried while the queue is still full: the slot of an
    explanation that was stopped comes free."""
    end = time.monotonic() + POLL_S
    while True:
        try:
            return explain(stub, "sentiment", "fine", steps=1)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.monotonic() > end:
                raise
            time.sleep(0.05)


def slow_request() -> nlp_pb2.ExplainTextRequest:
    return nlp_pb2.ExplainTextRequest(
        model=common_pb2.ModelRef(name="sentiment"), input=LONG, steps=SLOW_STEPS
    )


def test_a_full_explain_queue_refuses_explanations_not_inference_and_cancel_stops_it(
    server: InferenceServer, stub: nlp_pb2_grpc.NlpServiceStub
) -> None:
    before = pieces(server)
    running = stub.Explain.future(slow_request(), timeout=300)
    error = rpc_error(lambda: until_refused(stub))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    classified = stub.Classify(
        nlp_pb2.ClassifyRequest(model=common_pb2.ModelRef(name="sentiment"), inputs=["great"]),
        timeout=60,
    )
    assert classified.results[0].labels[0].label == "positive"
    assert not running.done()  # inference was answered while the explanation computed
    running.cancel()  # type: ignore[no-untyped-call]
    accepted = until_accepted(stub)
    assert accepted.target_label == "positive"
    # The cancelled explanation stopped between pieces: far fewer than its whole work
    # (each of 512 steps in batches of 8 is a piece), plus the 3 pieces of the one above.
    ran = pieces(server) - before - 3
    assert 1 <= ran < SLOW_STEPS // 8


def until_refused(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    """A second explanation while the first holds the only slot: refused at once (the
    first may need a moment to be admitted, so a few are tried)."""
    for _ in range(100):
        explain(stub, "sentiment", "fine", steps=1)
        time.sleep(0.05)


def test_a_deadline_stops_the_explanation(
    server: InferenceServer, stub: nlp_pb2_grpc.NlpServiceStub
) -> None:
    before = pieces(server)
    error = rpc_error(lambda: stub.Explain(slow_request(), timeout=2))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    until_accepted(stub)
    ran = pieces(server) - before - 3
    assert 1 <= ran < SLOW_STEPS // 8
