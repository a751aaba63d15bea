"""A bad model config stops a service at start, before it serves, with a one-line reason
naming the model and the field: never a pod that sits NOT_SERVING until its probe kills it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import free_port

EXIT_TIMEOUT_S = 120
"""Generous bound on a child that should exit at once; a service that serves instead
would run until it, and the test fails on the timeout (a guard, not a measurement)."""

CASES = {
    "unknown-runtime": (
        "modelport.nlp",
        {"name": "gen", "runtime": "hf-causl-lm", "path": "/models/gen"},
        ["models[0]", "'gen'", "runtime", "hf-causl-lm", "hf-causal-lm"],
    ),
    "prototypes-without-examples": (
        "modelport.nlp",
        {
            "name": "sentiment",
            "runtime": "label-prototypes",
            "path": "/models/minilm",
            "options": {"labels": {"positive": []}},
        },
        ["models[0]", "'sentiment'", "options.labels.positive"],
    ),
    "unknown-option": (
        "modelport.nlp",
        {
            "name": "sentiment",
            "runtime": "label-prototypes",
            "path": "/models/minilm",
            "options": {"labels": {"positive": ["good"]}, "temprature": 0.1},
        },
        ["models[0]", "'sentiment'", "options.temprature"],
    ),
    "option-of-the-wrong-type": (
        "modelport.embedding",
        {
            "name": "minilm",
            "runtime": "sentence-embedding",
            "path": "/models/minilm",
            "options": {"max_padded_tokens": "lots"},
        },
        ["models[0]", "'minilm'", "options.max_padded_tokens"],
    ),
    "vision-factory-missing": (
        "modelport.vision",
        {"name": "net", "runtime": "torch-image-classification"},
        ["models[0]", "'net'", "options"],
    ),
}


def run_service(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env={
            "MODELPORT_HOST": "127.0.0.1",
            "MODELPORT_PORT": str(free_port()),
            "MODELPORT_METRICS_PORT": "-1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT_S,
    )


def reason(stderr: str) -> str:
    """The last line of stderr: the reason, with no traceback before it."""
    lines = stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    assert "Traceback" not in stderr, stderr
    return lines[-1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_model_config_exits_non_zero_naming_model_and_field(
    case: str, tmp_path: Path, free_env: dict[str, str]
) -> None:
    module, model, expected = CASES[case]
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump({"models": [model]}))
    done = run_service(["-m", module], {**free_env, "MODELPORT_MODELS_FILE": str(models)})
    assert done.returncode != 0
    line = reason(done.stderr)
    for fragment in expected:
        assert fragment in line, line


def test_modelport_serve_exits_the_same_way(tmp_path: Path, free_env: dict[str, str]) -> None:
    _, model, expected = CASES["unknown-runtime"]
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump({"models": [model]}))
    done = run_service(
        ["-m", "modelport.cli", "serve", "nlp"], {**free_env, "MODELPORT_MODELS_FILE": str(models)}
    )
    assert done.returncode != 0
    line = reason(done.stderr)
    for fragment in expected:
        assert fragment in line, line


def test_models_and_models_file_together_are_refused(
    tmp_path: Path, free_env: dict[str, str]
) -> None:
    model = {"name": "minilm", "runtime": "sentence-embedding", "path": "/models/minilm"}
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump({"models": [model]}))
    env = {
        **free_env,
        "MODELPORT_MODELS_FILE": str(models),
        "MODELPORT_MODELS": json.dumps([{**model, "name": "other"}]),
    }
    done = run_service(["-m", "modelport.embedding"], env)
    assert done.returncode != 0
    line = reason(done.stderr)
    assert "models_file and models are both set" in line, line


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [("MODELPORT_MODELS", "[{", "models"), ("MODELPORT_PORT", "fifty", "port")],
)
def test_a_setting_that_does_not_parse_exits_naming_it(
    variable: str, value: str, named: str, free_env: dict[str, str]
) -> None:
    done = run_service(["-m", "modelport.embedding"], {**free_env, variable: value})
    assert done.returncode != 0
    assert named in reason(done.stderr)
