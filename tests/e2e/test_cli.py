"""`modelport up` then the client commands: the README's promise, through the command line.

One suite per run of this module (a start loads every real model): the test walks what a
new user does, in order, and what they would check at each step.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import prepared
from tests.helpers import free_port, free_port_run

MODELPORT = [sys.executable, "-m", "modelport.cli"]
ROOT = Path(__file__).resolve().parents[2]
CAT = ROOT / "docs" / "examples" / "cat.jpg"
"""The README's example image (Chelsea the cat, from scikit-image's sample data, CC0)."""
NEWS = "Angela Merkel met Siemens executives in Paris on Tuesday."


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.e2e
def test_up_then_every_command_then_a_second_up_then_a_clean_stop(
    free_env: dict[str, str], tmp_path: Path
) -> None:
    prepared.gemma()  # else `modelport up` would convert it inside the test's timeout
    prepared.smollm2()
    port, metrics_port, gateway_port = free_port_run(4), free_port_run(5), free_port_run(1)
    target = f"127.0.0.1:{port}"
    data = tmp_path / "data"
    up = subprocess.Popen(
        [
            *MODELPORT,
            "up",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--gateway-port",
            str(gateway_port),
            "--data-dir",
            str(data),
        ],
        env=free_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )

    def modelport(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*MODELPORT, *argv],
            env=free_env,
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    try:
        assert up.stdout is not None
        lines = []
        for line in up.stdout:
            lines.append(line)
            if line.startswith("ready:"):
                break
        assert lines[-1].startswith("ready:"), lines
        for model in (
            "all-MiniLM-L6-v2",
            "sentiment",
            "ner",
            "sentiment-spacy",
            "gemma-3-270m",
            "smollm2-135m-instruct",
            "efficientnet-lite0",
            "ocr",
        ):
            assert any(re.match(rf"{model} +1 ", line) and "READY" in line for line in lines), (
                model,
                lines,
            )
        # each component says when it is serving, in its own time; no library noise
        serving = [re.match(r"  (\w+) +SERVING on ", line) for line in lines]
        assert sorted(m[1] for m in serving if m) == [
            "embedding",
            "gateway",
            "nlp",
            "router",
            "vision",
        ]
        assert f"HTTP gateway on http://127.0.0.1:{gateway_port}" in lines[-1], lines
        for noise in ("%|", "Warning", "Loading weights", "Traceback"):
            assert not any(noise in line for line in lines), (noise, lines)
        assert {p.name for p in (data / "logs").iterdir()} == {
            "router.log",
            "embedding.log",
            "nlp.log",
            "vision.log",
            "gateway.log",
        }

        # a second suite on the same ports refuses to start, and never says ready
        second = modelport("up", "--port", str(port), "--data-dir", str(tmp_path / "second"))
        assert second.returncode == 1, second
        assert f"127.0.0.1:{port} (router gRPC)" in second.stderr
        assert "another `modelport up`" in second.stderr
        assert "ready:" not in second.stdout
        # and so does one whose gateway port is taken
        third = modelport(
            "up",
            "--port",
            str(free_port_run(4)),
            "--metrics-port",
            str(free_port_run(5)),
            "--gateway-port",
            str(gateway_port),
            "--data-dir",
            str(tmp_path / "third"),
        )
        assert third.returncode == 1, third
        assert f"127.0.0.1:{gateway_port} (gateway HTTP)" in third.stderr
        assert "ready:" not in third.stdout

        read = modelport("read-text", "--target", target, str(ROOT / "docs/examples/text.png"))
        assert read.returncode == 0, read.stderr
        assert read.stdout == "Modelport reads text\nTotal due 42.50\n"

        out = modelport("embed", "--target", target, "--json", "hello", "world")
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["model"] == "all-MiniLM-L6-v2"
        assert [len(v) for v in result["embeddings"]] == [384, 384]

        # duplicates keep their place; texts can come from stdin
        texts = ["I love this", "-", "I love this"]  # "-": the lines of stdin
        classified = modelport(
            "classify", "--target", target, "--json", *texts, stdin="This is terrible\n"
        )
        assert classified.returncode == 0, classified.stderr
        labels = json.loads(classified.stdout)
        assert labels["model"] == "sentiment"
        assert [r["input"] for r in labels["results"]] == [
            "I love this",
            "This is terrible",
            "I love this",
        ]
        tops = [r["labels"][0]["label"] for r in labels["results"]]
        assert tops == ["positive", "negative", "positive"]

        # the trained spaCy classifier: three labels, best first
        spacy = modelport(
            "classify",
            "--target",
            target,
            "--model",
            "sentiment-spacy",
            "--json",
            "worst service I have ever had",
            "The package arrived on Tuesday.",
        )
        assert spacy.returncode == 0, spacy.stderr
        moods = json.loads(spacy.stdout)
        assert moods["model"] == "sentiment-spacy"
        assert [r["labels"][0]["label"] for r in moods["results"]] == ["negative", "neutral"]
        assert {x["label"] for x in moods["results"][0]["labels"]} == {
            "positive",
            "negative",
            "neutral",
        }
        # named entities through the router, with exact character offsets
        tagged = modelport("entities", "--target", target, "--json", NEWS)
        assert tagged.returncode == 0, tagged.stderr
        found = json.loads(tagged.stdout)
        assert found["model"] == "ner"
        (entities,) = found["results"]
        assert [(e["label"], NEWS[e["start"] : e["end"]]) for e in entities["entities"]] == [
            ("PERSON", "Angela Merkel"),
            ("ORG", "Siemens"),
            ("GPE", "Paris"),
            ("DATE", "Tuesday"),
        ]
        assert all(e["text"] == NEWS[e["start"] : e["end"]] for e in entities["entities"])

        generated = modelport(
            "generate", "--target", target, "--max-new-tokens", "12", "Once upon a time"
        )
        assert generated.returncode == 0, generated.stderr
        assert generated.stdout.startswith("Once upon a time")
        assert len(generated.stdout.strip()) > len("Once upon a time") + 5
        as_json = modelport(
            "generate", "--target", target, "--json", "--max-new-tokens", "5", "Hello"
        )
        assert as_json.returncode == 0, as_json.stderr
        generation = json.loads(as_json.stdout)
        assert generation["model"] == "gemma-3-270m"
        assert generation["finish_reason"] in ("length", "eos")
        assert generation["usage"]["output_tokens"] <= 5
        assert generation["usage"]["total_tokens"] == (
            generation["usage"]["input_tokens"] + generation["usage"]["output_tokens"]
        )

        # chat: the message from the arguments or stdin; --json with the finish reason
        paragraph = (
            "The city council voted on Tuesday to build a new public library downtown. "
            "Construction starts next spring and will cost 12 million dollars."
        )
        chatted = modelport(
            "chat",
            "--target",
            target,
            "--json",
            "-",
            stdin=f"Summarise in one sentence: {paragraph}",
        )
        assert chatted.returncode == 0, chatted.stderr
        reply = json.loads(chatted.stdout)
        assert reply["model"] == "smollm2-135m-instruct"
        assert reply["message"]["role"] == "assistant"
        assert "library" in reply["message"]["content"].lower(), reply
        assert reply["finish_reason"] == "eos"  # it ended its turn (<|im_end|>)
        assert reply["usage"]["input_tokens"] > len(paragraph.split())  # template included
        streamed = modelport(
            "chat",
            "--target",
            target,
            "--stream",
            "--system",
            "Answer with one word.",
            "--max-new-tokens",
            "8",
            "What colour is the sky on a clear day?",
        )
        assert streamed.returncode == 0, streamed.stderr
        assert streamed.stdout.strip()
        no_template = modelport("chat", "--target", target, "--model", "gemma-3-270m", "hi")
        assert no_template.returncode == 1
        assert "model 'gemma-3-270m' has no chat template" in no_template.stderr
        assert "`modelport generate --model gemma-3-270m` calls it" in no_template.stderr

        labelled = modelport("classify-image", "--target", target, "--json", str(CAT))
        assert labelled.returncode == 0, labelled.stderr
        (picture,) = json.loads(labelled.stdout)["results"]
        assert picture["file"] == str(CAT)
        cat_labels = [r["label"] for r in picture["labels"]]
        assert any("cat" in label or "tabby" in label for label in cat_labels), cat_labels

        # why the model answered so: each token's attribution, an image's heat map
        explained = modelport("explain", "--target", target, "The food was wonderful.")
        assert explained.returncode == 0, explained.stderr
        head = explained.stdout.splitlines()[0]
        assert head.startswith("sentiment 1: positive "), head
        assert "integrated gradients, 50 steps, baseline pad, convergence delta" in head
        why = modelport("explain", "--target", target, "--json", "The food was wonderful.")
        tokens = json.loads(why.stdout)["tokens"]
        strongest = max((t for t in tokens if not t.get("special")), key=lambda t: t["attribution"])
        assert strongest["text"] == "wonderful"
        heatmap = tmp_path / "cat-heat.png"
        seen = modelport(
            "explain",
            "--target",
            target,
            "--image",
            str(CAT),
            "--method",
            "occlusion",
            "--window",
            "56",
            "--heatmap",
            str(heatmap),
        )
        assert seen.returncode == 0, seen.stderr
        assert "(occlusion, window 56, stride 28" in seen.stdout
        assert f"heat map: {heatmap}" in seen.stdout
        assert heatmap.read_bytes().startswith(b"\x89PNG")

        # errors that say what to do, with distinct exit codes
        missing = modelport("embed", "--target", target, "--model", "nope", "x")
        assert missing.returncode == 1
        assert "NOT_FOUND" in missing.stderr
        assert "`modelport models`" in missing.stderr
        wrong = modelport("embed", "--target", target, "--model", "sentiment", "hi")
        assert wrong.returncode == 1
        assert wrong.stderr.startswith(
            "error: FAILED_PRECONDITION: model 'sentiment' is a text-classification model: "
            "call modelport.v1.NlpService/Classify"
        )
        assert "`modelport classify --model sentiment` calls it" in wrong.stderr
        failed = modelport("generate", "--target", target, "--model", "nope", "hi")
        assert failed.stdout == ""  # the prompt is shown only once the call is under way
        refused = modelport("models", "--target", f"127.0.0.1:{free_port()}")
        assert refused.returncode == 3
        assert "`make up`" in refused.stderr

        children = children_of(up.pid)
        assert children, "the suite runs its services as child processes"
        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0
        assert up.stdout.read().splitlines()[-1] == "stopped"
        deadline = time.monotonic() + 10
        while any(alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(c) for c in children), "orphaned service processes"
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
