"""Merging per-token predictions into entities, on hand-made probabilities."""

from __future__ import annotations

import numpy as np

from modelport.nlp.tokens import Aggregation, TokenItem, aggregate

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
TEXT = "Ada Lovelace visited Zürich"
# tokens: "Ada" " Love" "lace" " visited" " Zür" "ich"
OFFSETS = [(0, 3), (4, 8), (8, 12), (13, 20), (21, 24), (24, 27)]
WORDS = [0, 1, 1, 2, 3, 3]


def probs(labels: list[int], confidence: float = 0.9) -> np.ndarray:
    p = np.full((len(labels), len(LABELS)), (1 - confidence) / (len(LABELS) - 1))
    for row, label in enumerate(labels):
        p[row, label] = confidence
    return p


def item(aggregation: Aggregation, min_score: float = 0.0) -> TokenItem:
    return TokenItem(TEXT, list(range(6)), OFFSETS, WORDS, aggregation, min_score)


def test_simple_merges_b_and_i_tags_into_spans_with_code_point_offsets() -> None:
    entities = aggregate(item(Aggregation.SIMPLE), probs([1, 2, 2, 0, 3, 4]), LABELS)
    assert [(e.label, e.text, e.start, e.end) for e in entities] == [
        ("PER", "Ada Lovelace", 0, 12),
        ("LOC", "Zürich", 21, 27),
    ]
    assert all(TEXT[e.start : e.end] == e.text for e in entities)


def test_none_keeps_one_entity_per_token() -> None:
    entities = aggregate(item(Aggregation.NONE), probs([1, 2, 2, 0, 3, 4]), LABELS)
    assert [e.label for e in entities] == ["B-PER", "I-PER", "I-PER", "B-LOC", "I-LOC"]


def test_first_takes_each_words_first_token_label() -> None:
    # "lace" says LOC but the word "Lovelace" starts as I-PER
    entities = aggregate(item(Aggregation.FIRST), probs([1, 2, 3, 0, 3, 0]), LABELS)
    assert [(e.label, e.text) for e in entities] == [("PER", "Ada Lovelace"), ("LOC", "Zürich")]


def test_average_takes_the_best_mean_label_per_word() -> None:
    p = probs([1, 2, 0, 0, 3, 4])
    p[2] = [0.5, 0.0, 0.5, 0.0, 0.0]  # "lace": undecided, the word's mean still says I-PER
    entities = aggregate(item(Aggregation.AVERAGE), p, LABELS)
    assert [(e.label, e.text) for e in entities] == [("PER", "Ada Lovelace"), ("LOC", "Zürich")]


def test_min_score_drops_weak_entities() -> None:
    p = probs([1, 2, 2, 0, 3, 4])
    p[4:] = probs([3, 4], confidence=0.4)
    entities = aggregate(item(Aggregation.SIMPLE, min_score=0.5), p, LABELS)
    assert [e.text for e in entities] == ["Ada Lovelace"]
