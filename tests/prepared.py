"""What `make prepare` builds or fetches before pytest starts, found where it puts it.

Tests never build, install or convert anything: each step has its own make target and
time budget (see the Makefile), so a cold machine spends that time before pytest, not
inside a test's timeout. A missing artifact fails the test when the suite runs under
`make` (which exports MODELPORT_PREPARED=1) or in CI (`CI` set), so a forgotten install
step cannot hide behind a skip; anywhere else (a bare `pytest` on a workstation) it
skips, naming the make target that provides it. `-ra` lists every such skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "modelport"
ROUTER_IMAGE = "localhost/modelport-router:test"
"""Built by scripts/router-image.sh (`make images`)."""
INFERENCE_IMAGE = "localhost/modelport-inference-cpu:test"
"""Built by scripts/inference-image.sh (`make images`)."""
LABEL = '{{ index .Labels "modelport.context" }}'
"""The digest of the sources the image was built from (scripts/image_context.py)."""
CHART_TOOLS = ("helm", "kubernetes-validate", "checkov", "check-jsonschema")


def missing(what: str, target: str) -> NoReturn:
    message = f"{what}: run `make {target}` (or `make prepare`) first; tests never build it"
    if os.environ.get("MODELPORT_PREPARED") or os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _cache(variable: str, name: str) -> Path:
    return Path(os.environ.get(variable) or CACHE / name)


def kube_apiserver() -> Path:
    """The kube-apiserver binary of scripts/kube-apiserver.sh; etcd is on PATH."""
    binary = _cache("MODELPORT_K8S_CACHE", "k8s") / "kube-apiserver"
    if not os.access(binary, os.X_OK):
        missing(f"kube-apiserver missing at {binary}", "k8s")
    if shutil.which("etcd") is None:
        missing("etcd missing from PATH", "k8s")
    return binary


def chart_tools() -> Path:
    """The folder of helm, kubernetes-validate, checkov, check-jsonschema."""
    folder = _cache("MODELPORT_TOOLS_CACHE", "tools") / "bin"
    absent = [t for t in CHART_TOOLS if not os.access(folder / t, os.X_OK)]
    if absent:
        missing(f"chart tools {', '.join(absent)} missing from {folder}", "tools")
    return folder


def _image(image: str) -> str:
    """`image`, built from this tree (its label names the sources' digest)."""
    if shutil.which("podman") is None:
        missing("podman is not installed", "images")
    inspect = subprocess.run(
        ["podman", "image", "inspect", "--format", LABEL, image],
        capture_output=True,
        text=True,
    )
    if inspect.returncode != 0:
        missing(f"image {image} missing", "images")
    wanted = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "image_context.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if inspect.stdout.strip() != wanted:
        missing(f"image {image} was built from other sources than this tree", "images")
    return image


def router_image() -> str:
    """The router image built from this tree."""
    return _image(ROUTER_IMAGE)


def inference_image() -> str:
    """The CPU inference image built from this tree."""
    return _image(INFERENCE_IMAGE)


def triton_python() -> Path:
    """The Python of the tritonclient environment (tritonclient pins protobuf < 7), with
    its gRPC and HTTP clients."""
    python = ROOT / ".venv-clients" / "bin" / "python"
    if not (ROOT / ".venv-clients" / ".installed-grpc-http").exists():
        missing(f"the tritonclient environment missing at {python.parents[1]}", "clients")
    return python


def node_modules() -> Path:
    """The Node client's installed packages."""
    folder = ROOT / "clients" / "node" / "node_modules"
    if not (folder / ".installed-stamp").exists():
        missing(f"the Node client's packages missing at {folder}", "clients")
    return folder


def gemma() -> Path:
    """gemma-3-270m converted once from its GGUF (what `modelport up` loads)."""
    from modelport.inference.settings import CacheSettings
    from modelport.nlp.gemma3_270m import PACKAGE

    folder = CacheSettings().cache_dir / PACKAGE / "hf"
    if not (folder / "config.json").exists():
        missing(f"gemma-3-270m not converted yet at {folder}", "models")
    return folder


def smollm2() -> Path:
    """smollm2-135m-instruct converted once from its GGUF (what `modelport up` loads)."""
    from modelport.inference.settings import CacheSettings
    from modelport.nlp.gguf_source import converted_dir
    from modelport.nlp.smollm2_135m import PACKAGE

    folder = converted_dir(PACKAGE, CacheSettings().cache_dir)
    if not (folder / "config.json").exists():
        missing(f"smollm2-135m-instruct not converted yet at {folder}", "models")
    return folder


def eval_data() -> Path:
    """The labelled sets of scripts/eval_data.py (`make eval-data`)."""
    folder = Path(os.environ.get("MODELPORT_EVAL_DATA") or CACHE / "eval")
    wanted = ("tweets.jsonl", "entities.jsonl", "pydoc-queries.jsonl", "pydoc-corpus.jsonl")
    absent = [name for name in (*wanted, "images") if not (folder / name).exists()]
    if absent:
        missing(f"evaluation data {', '.join(absent)} missing from {folder}", "eval-data")
    return folder
