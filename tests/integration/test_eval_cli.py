"""`modelport eval` against real servers with the suite's models, on the labelled sets
`make eval-data` writes (tests/prepared.py): the reports' figures, hashes, versions,
latency and errors, and `--fail-under` as a gate. Run with `-s` to see the figures."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelport import cli
from modelport.embedding.__main__ import build as build_embedding
from modelport.embedding.__main__ import default_models as embedding_models
from modelport.embedding.settings import EmbeddingSettings
from modelport.nlp.__main__ import build as build_nlp
from modelport.nlp.__main__ import default_models as nlp_models
from modelport.nlp.settings import NlpSettings
from modelport.vision.__main__ import build as build_vision
from modelport.vision.__main__ import default_models as vision_models
from modelport.vision.settings import VisionSettings
from tests import prepared
from tests.helpers import free_port, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data() -> Path:
    return prepared.eval_data()


@pytest.fixture(scope="module")
def nlp() -> Iterator[str]:
    models = [m for m in nlp_models() if m.name in ("sentiment", "sentiment-spacy", "ner")]
    settings = NlpSettings(host="127.0.0.1", port=0, metrics_port=-1)
    with running_server(build_nlp, settings, models) as server:
        yield f"127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def embedding() -> Iterator[str]:
    settings = EmbeddingSettings(host="127.0.0.1", port=0, metrics_port=-1)
    with running_server(build_embedding, settings, embedding_models()) as server:
        yield f"127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def vision() -> Iterator[str]:
    models = [m for m in vision_models() if m.name == "efficientnet-lite0"]
    settings = VisionSettings(host="127.0.0.1", port=0, metrics_port=-1)
    with running_server(build_vision, settings, models) as server:
        yield f"127.0.0.1:{server.port}"


def run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str
) -> tuple[int, dict[str, Any], str]:
    """Exit status, the JSON report and the Markdown report of one `modelport eval`."""
    out = tmp_path / "report"
    status = cli.main(["eval", *args, "--out", str(out)])
    printed = capsys.readouterr()
    print(printed.out, end="")
    report = json.loads(out.with_suffix(".json").read_text()) if status in (0, 4) else {}
    markdown = out.with_suffix(".md").read_text() if status in (0, 4) else printed.err
    return status, report, markdown


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sentiment_three_labels_with_report(
    nlp: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tweets = data / "tweets.jsonl"
    status, report, markdown = run(
        capsys,
        tmp_path,
        str(tweets),
        "--model",
        "sentiment-spacy",
        "--target",
        nlp,
        "--batch-size",
        "16",
        "--fail-under",
        "accuracy=0.4",
    )
    assert status == 0
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    assert report["task"] == "classification"  # from the model's registered task
    assert report["version"] == "1"
    assert report["dataset"] == {
        "path": str(tweets),
        "sha256": sha256(tweets),
        "n": 450,
        "evaluated": 450,
    }
    assert metrics["labels"] == ["negative", "neutral", "positive"]
    assert sum(map(sum, metrics["confusion_matrix"])) == 450
    assert 0.4 < metrics["accuracy"] < 1.0  # chance: 1/3
    assert metrics["macro_f1"] > 0.36
    latency = report["latency"]
    assert isinstance(latency, dict)
    assert latency["calls"] == math.ceil(450 / 16)
    assert 0 < latency["p50_ms"] <= latency["p90_ms"] <= latency["p99_ms"]
    assert report["errors"] == {"calls": 29, "failed_calls": 0, "failed_inputs": 0, "by_status": {}}
    assert "Confusion matrix" in markdown
    assert "| neutral |" in markdown


def test_prototypes_on_two_labels_and_a_missed_gate(
    nlp: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, markdown = run(
        capsys,
        tmp_path,
        str(data / "tweets.jsonl"),
        "--model",
        "sentiment",
        "--target",
        nlp,
        "--labels",
        "positive,negative",
        "--fail-under",
        "accuracy=0.99",
        "--fail-under",
        "success_rate=1",
    )
    assert status == cli.EXIT_GATE
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    assert report["dataset"]["evaluated"] == 300
    assert 0.55 < metrics["accuracy"] < 0.99  # chance: 1/2
    assert [g["pass"] for g in report["gates"]] == [False, True]
    assert report["pass"] is False
    assert "**FAIL**" in markdown


def test_entities_exact_spans(
    nlp: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, _ = run(
        capsys, tmp_path, str(data / "entities.jsonl"), "--model", "ner", "--target", nlp
    )
    assert status == 0
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    assert report["task"] == "token-classification"
    assert metrics["entities_gold"] == 9
    assert metrics["f1"] > 0.5
    assert "GPE" in metrics["per_type"]


def test_retrieval_over_python_reference_sections(
    embedding: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, markdown = run(
        capsys,
        tmp_path,
        str(data / "pydoc-queries.jsonl"),
        "--model",
        "all-MiniLM-L6-v2",
        "--target",
        embedding,
        "--corpus",
        str(data / "pydoc-corpus.jsonl"),
        "--batch-size",
        "32",
        "--fail-under",
        "ndcg_at_10=0.3",
    )
    assert status == 0
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    assert report["task"] == "retrieval"
    n = report["dataset"]["n"]
    assert report["dataset"]["corpus"]["n"] == n
    # one relevant section among ~130: chance nDCG@10 is about 0.03
    assert 0.3 < metrics["ndcg_at_10"] <= 1
    assert metrics["recall_at_1"] <= metrics["recall_at_5"] <= metrics["recall_at_10"]
    assert metrics["mrr"] >= metrics["recall_at_1"]
    assert "corpus:" in markdown


def test_images_top1_top5(
    vision: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, _ = run(
        capsys,
        tmp_path,
        str(data / "images"),
        "--model",
        "efficientnet-lite0",
        "--target",
        vision,
    )
    assert status == 0
    metrics = report["metrics"]
    assert isinstance(metrics, dict)
    assert report["task"] == "image-classification"
    assert metrics["n"] == 4
    assert metrics["top5"] >= metrics["top1"]
    assert metrics["top5"] >= 0.5  # chance: 5/1000


def test_failed_calls_are_counted_by_status(
    nlp: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report, _ = run(
        capsys,
        tmp_path,
        str(data / "tweets.jsonl"),
        "--model",
        "sentiment",
        "--version",
        "9",
        "--target",
        nlp,
        "--task",
        "classification",
        "--limit",
        "20",
        "--fail-under",
        "success_rate=1",
    )
    assert status == cli.EXIT_GATE
    errors = report["errors"]
    assert errors == {
        "calls": 3,
        "failed_calls": 3,
        "failed_inputs": 20,
        "by_status": {"NOT_FOUND": 3},
    }
    assert report["metrics"]["success_rate"] == 0


def test_usage_errors_and_an_unreachable_target(
    nlp: str, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tweets = str(data / "tweets.jsonl")
    with pytest.raises(SystemExit) as exit_info:
        run(
            capsys,
            tmp_path,
            tweets,
            "--model",
            "sentiment",
            "--target",
            nlp,
            "--fail-under",
            "ndcg_at_10=0.5",
        )
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "not a metric of classification" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n')
    with pytest.raises(SystemExit):
        run(capsys, tmp_path, str(bad), "--model", "sentiment", "--target", nlp)
    assert f"{bad}:1: field 'label' is missing" in capsys.readouterr().err
    status, _, _ = run(
        capsys,
        tmp_path,
        tweets,
        "--model",
        "sentiment",
        "--task",
        "classification",
        "--target",
        f"127.0.0.1:{free_port()}",
        "--limit",
        "4",
    )
    assert status == cli.EXIT_UNREACHABLE
