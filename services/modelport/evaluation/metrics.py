"""Evaluation metrics, computed here (no scikit-learn at run time; the tests check these
against scikit-learn and hand-worked cases). Pure Python: the CLI needs no numpy."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

Span = tuple[int, int, str]
"""(start, end, label) of an entity, in code points of its text."""


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def classification(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy; macro, micro and weighted precision/recall/F1; per-class figures and the
    confusion matrix (rows: true label, columns: predicted label). Labels are those of
    the truth and of the predictions, sorted; a class never predicted has precision 0
    (scikit-learn's `zero_division=0`)."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    labels = sorted(set(truth) | set(predicted))
    pairs = Counter(zip(truth, predicted, strict=True))
    support = Counter(truth)
    per_class: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = pairs[(label, label)]
        fp = sum(n for (t, p), n in pairs.items() if p == label and t != label)
        fn = sum(n for (t, p), n in pairs.items() if t == label and p != label)
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        per_class[label] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": support[label],
        }
    n = len(truth)
    correct = sum(n for (t, p), n in pairs.items() if t == p)
    scored = [c for c in labels if support[c]]  # scikit-learn averages over true labels
    macro = {
        k: _ratio(sum(per_class[c][k] for c in labels), len(labels))
        for k in ("precision", "recall", "f1")
    }
    weighted = {
        k: _ratio(sum(per_class[c][k] * support[c] for c in scored), n)
        for k in ("precision", "recall", "f1")
    }
    accuracy = _ratio(correct, n)
    return {
        "n": n,
        "accuracy": accuracy,
        "macro_precision": macro["precision"],
        "macro_recall": macro["recall"],
        "macro_f1": macro["f1"],
        # single-label: micro precision = micro recall = micro F1 = accuracy
        "micro_f1": accuracy,
        "weighted_precision": weighted["precision"],
        "weighted_recall": weighted["recall"],
        "weighted_f1": weighted["f1"],
        "per_class": per_class,
        "labels": labels,
        "confusion_matrix": [[pairs[(t, p)] for p in labels] for t in labels],
    }


def entities(gold: Sequence[Iterable[Span]], predicted: Sequence[Iterable[Span]]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 by exact match: a predicted entity counts
    when a gold entity of the same text has the same start, end and label (as seqeval's
    strict IOB2 mode and CoNLL's conlleval count). Micro over all entities, macro over
    types, and per type."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predictions differ in length")
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for g, p in zip(gold, predicted, strict=True):
        gs, ps = set(g), set(p)
        n_gold.update(s[2] for s in gs)
        n_pred.update(s[2] for s in ps)
        tp.update(s[2] for s in gs & ps)
    types = sorted(set(n_gold) | set(n_pred))
    per_type = {}
    for t in types:
        precision, recall = _ratio(tp[t], n_pred[t]), _ratio(tp[t], n_gold[t])
        per_type[t] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": n_gold[t],
            "predicted": n_pred[t],
        }
    precision = _ratio(sum(tp.values()), sum(n_pred.values()))
    recall = _ratio(sum(tp.values()), sum(n_gold.values()))
    return {
        "n": len(gold),
        "entities_gold": sum(n_gold.values()),
        "entities_predicted": sum(n_pred.values()),
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "macro_f1": _ratio(sum(v["f1"] for v in per_type.values()), len(per_type)),
        "per_type": per_type,
    }


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k (gain 1, discount log2(rank + 1)), as TREC's and MTEB's."""
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return _ratio(dcg, ideal)


def reciprocal_rank(ranked: Sequence[str], relevant: set[str], k: int | None = None) -> float:
    """1 / rank of the first relevant document (within the first `k`), 0 without one."""
    for i, doc in enumerate(ranked[:k]):
        if doc in relevant:
            return 1 / (i + 1)
    return 0.0


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return _ratio(len(set(ranked[:k]) & relevant), len(relevant))


RECALL_KS = (1, 5, 10, 100)


def retrieval(rankings: Sequence[Sequence[str]], relevant: Sequence[set[str]]) -> dict[str, Any]:
    """Means over queries of nDCG@10, MRR (whole ranking) and recall@k (k = 1, 5, 10, 100)."""
    n = len(rankings)
    pairs = list(zip(rankings, relevant, strict=True))
    out: dict[str, Any] = {
        "n": n,
        "ndcg_at_10": _ratio(sum(ndcg_at_k(r, g) for r, g in pairs), n),
        "mrr": _ratio(sum(reciprocal_rank(r, g) for r, g in pairs), n),
    }
    for k in RECALL_KS:
        out[f"recall_at_{k}"] = _ratio(sum(recall_at_k(r, g, k) for r, g in pairs), n)
    return out


def top_k_accuracy(truth: Sequence[str], ranked: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Top-1 and top-5 accuracy: the true label is the first / among the first five."""
    n = len(truth)
    return {
        "n": n,
        "top1": _ratio(sum(bool(r) and r[0] == t for t, r in zip(truth, ranked, strict=True)), n),
        "top5": _ratio(sum(t in r[:5] for t, r in zip(truth, ranked, strict=True)), n),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's
    default); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99 and mean of call latencies, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "calls": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "mean_ms": _ratio(sum(ms), len(ms)),
    }


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return _ratio(dot, norm)
