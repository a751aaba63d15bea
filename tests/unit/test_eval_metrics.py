"""`modelport eval`'s metrics against scikit-learn and against cases worked by hand."""

from __future__ import annotations

import math
import random

import pytest
from sklearn import metrics as sk

from modelport.evaluation import metrics


def _random_labels(seed: int, n: int, labels: str) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    truth = [rng.choice(labels) for _ in range(n)]
    # mostly right, sometimes a label the truth never has
    predicted = [t if rng.random() < 0.6 else rng.choice(labels + "z") for t in truth]
    return truth, predicted


@pytest.mark.parametrize("seed", range(5))
def test_classification_matches_scikit_learn(seed: int) -> None:
    truth, predicted = _random_labels(seed, 200, "abcd")
    got = metrics.classification(truth, predicted)
    labels = got["labels"]
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    for average in ("macro", "micro", "weighted"):
        want = sk.f1_score(truth, predicted, average=average, zero_division=0)
        assert got[f"{average}_f1"] == pytest.approx(want), average
    for average in ("macro", "weighted"):
        p = sk.precision_score(truth, predicted, average=average, zero_division=0)
        r = sk.recall_score(truth, predicted, average=average, zero_division=0)
        assert got[f"{average}_precision"] == pytest.approx(p)
        assert got[f"{average}_recall"] == pytest.approx(r)
    matrix = sk.confusion_matrix(truth, predicted, labels=labels)
    assert got["confusion_matrix"] == matrix.tolist()
    per_class = sk.f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    assert [got["per_class"][c]["f1"] for c in labels] == pytest.approx(list(per_class))


def test_classification_by_hand() -> None:
    # truth: pos pos neg neg neu; predicted: pos neg neg neg pos
    got = metrics.classification(
        ["pos", "pos", "neg", "neg", "neu"], ["pos", "neg", "neg", "neg", "pos"]
    )
    assert got["accuracy"] == pytest.approx(3 / 5)
    # pos: P 1/2 R 1/2 F 1/2; neg: P 2/3 R 1 F 0.8; neu: 0
    assert got["per_class"]["neg"]["f1"] == pytest.approx(0.8)
    assert got["macro_f1"] == pytest.approx((0.5 + 0.8 + 0) / 3)
    assert got["weighted_f1"] == pytest.approx((0.5 * 2 + 0.8 * 2) / 5)
    assert got["labels"] == ["neg", "neu", "pos"]
    assert got["confusion_matrix"] == [[2, 0, 0], [0, 0, 1], [1, 0, 1]]


def test_entities_count_exact_spans_only() -> None:
    gold = [[(0, 5, "PER"), (10, 15, "LOC")], [(0, 3, "ORG")]]
    predicted = [
        [(0, 5, "PER"), (10, 14, "LOC")],  # one exact, one boundary miss
        [(0, 3, "PER"), (5, 8, "ORG")],  # wrong type, spurious
    ]
    got = metrics.entities(gold, predicted)
    assert got["precision"] == pytest.approx(1 / 4)
    assert got["recall"] == pytest.approx(1 / 3)
    assert got["f1"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    assert got["per_type"]["PER"] == {
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
        "support": 1,
        "predicted": 2,
    }
    assert got["per_type"]["LOC"]["f1"] == 0.0


def test_retrieval_matches_scikit_learn_ndcg() -> None:
    rng = random.Random(7)
    docs = [f"d{i}" for i in range(30)]
    rankings, relevant = [], []
    for _ in range(20):
        ranked = rng.sample(docs, len(docs))
        rankings.append(ranked)
        relevant.append(set(rng.sample(docs, rng.randint(1, 4))))
    got = metrics.retrieval(rankings, relevant)
    # scikit-learn's ndcg_score: scores = reversed rank; truth = binary relevance
    scores = [[len(docs) - r.index(d) for d in docs] for r in rankings]
    truth = [[1 if d in g else 0 for d in docs] for g in relevant]
    assert got["ndcg_at_10"] == pytest.approx(sk.ndcg_score(truth, scores, k=10))
    assert got["n"] == 20


def test_retrieval_by_hand() -> None:
    ranked = ["a", "b", "c", "d"]
    assert metrics.reciprocal_rank(ranked, {"c"}) == pytest.approx(1 / 3)
    assert metrics.recall_at_k(ranked, {"b", "z"}, 2) == 0.5
    # relevant at ranks 2 and 4, two relevant: DCG 1/log2(3) + 1/log2(5), ideal 1 + 1/log2(3)
    want = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at_k(ranked, {"b", "d"}) == pytest.approx(want)
    assert metrics.ndcg_at_k(ranked, {"z"}) == 0.0


def test_top_k_accuracy() -> None:
    got = metrics.top_k_accuracy(
        ["cat", "dog", "cup"],
        [["cat", "dog"], ["cat", "a", "b", "c", "dog"], ["a", "b", "c", "d", "e", "cup"]],
    )
    assert got["top1"] == pytest.approx(1 / 3)
    assert got["top5"] == pytest.approx(2 / 3)


def test_percentiles_match_numpy_linear() -> None:
    import numpy as np

    values = [random.Random(3).random() for _ in range(101)]
    for q in (50, 90, 99):
        assert metrics.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert metrics.percentile([], 50) == 0.0
