"""Clients that already speak a protocol work against the suite's router unchanged:
Triton's own Python client over the Open Inference Protocol, and the Node/TypeScript
client generated from protos/. Generic tools find every service through reflection."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2

from modelport.v1 import registry_pb2, registry_pb2_grpc
from tests import prepared
from tests.e2e.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

NODE = ROOT / "clients" / "node"


@pytest.fixture(scope="module")
def triton_results(suite: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from PIL import Image
    from skimage import data as photos

    python = prepared.triton_python()
    cat = tmp_path_factory.mktemp("images") / "cat.jpg"
    Image.fromarray(photos.chelsea()).save(cat)  # type: ignore[no-untyped-call]
    out = subprocess.run(
        [
            str(python),
            str(ROOT / "tests" / "clients" / "triton_check.py"),
            "--url",
            suite,
            str(cat),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    results: dict[str, object] = json.loads(out.stdout)
    return results


def test_triton_server_and_model_metadata(triton_results: dict[str, object]) -> None:
    r = triton_results
    assert r["live"] is True
    assert r["ready"] is True
    assert "model_repository" in r["server"]["extensions"]  # type: ignore[index]
    meta = r["metadata"]
    assert meta["all-MiniLM-L6-v2"]["outputs"] == [  # type: ignore[index]
        {"name": "embedding", "datatype": "FP32", "shape": ["-1", "384"]}
    ]
    assert meta["sentiment"]["inputs"][0]["datatype"] == "BYTES"  # type: ignore[index]
    assert meta["efficientnet-lite0"]["inputs"][0]["name"] == "image"  # type: ignore[index]
    assert meta["gemma-3-270m"]["outputs"][0]["name"] == "text"  # type: ignore[index]


def test_triton_model_config_describes_each_model(triton_results: dict[str, object]) -> None:
    """`get_model_config` (perf_analyzer and many tools call it) through the router."""
    config: Any = triton_results["config"]
    minilm = config["all-MiniLM-L6-v2"]
    assert minilm["name"] == "all-MiniLM-L6-v2"
    assert minilm["platform"] == "modelport/sentence-embedding"
    assert minilm["backend"] == "modelport"
    assert minilm["max_batch_size"] == 32
    assert minilm["dynamic_batching"]["preferred_batch_size"] == [32]
    assert minilm["input"] == [
        {"name": "text", "data_type": "TYPE_STRING", "dims": ["1"], "reshape": {}}
    ]
    assert minilm["output"] == [{"name": "embedding", "data_type": "TYPE_FP32", "dims": ["384"]}]
    assert [o["name"] for o in config["sentiment"]["output"]] == ["label", "score"]
    assert config["efficientnet-lite0"]["input"][0]["name"] == "image"
    gemma = config["gemma-3-270m"]
    assert gemma["max_batch_size"] > 0
    assert "dynamic_batching" not in gemma  # a decoding loop runs it
    assert gemma["parameters"]["max_context"] == {"string_value": "512"}
    assert gemma["parameters"]["max_new_tokens"] == {"string_value": "511"}


def test_triton_infer_for_each_task(triton_results: dict[str, object]) -> None:
    r = triton_results
    assert r["embedding_shape"] == [2, 384]
    assert all(abs(n - 1.0) < 1e-4 for n in r["embedding_norms"])  # type: ignore[attr-defined]
    assert r["sentiment"] == ["positive", "negative"]
    assert r["sentiment_outputs"] == ["label"]  # requested outputs are honoured
    labels = r["image_labels"]
    assert any("cat" in label or "tabby" in label for label in labels)  # type: ignore[attr-defined]
    chunks = r["stream_chunks"]
    assert len(chunks) > 3  # type: ignore[arg-type]
    assert "".join(chunks).strip()  # type: ignore[arg-type]


def test_triton_errors_statistics_and_repository(triton_results: dict[str, object]) -> None:
    r = triton_results
    assert r["unknown_model"] == "StatusCode.NOT_FOUND"
    assert str(r["bad_input"]).startswith("StatusCode.INVALID_ARGUMENT inputs[wrong]")
    before, after = r["stats_before"], r["stats_after"]
    assert after["inference_count"] >= before["inference_count"] + 2  # type: ignore[index]
    assert after["success"] >= before["success"] + 1  # type: ignore[index]
    index = {m["name"]: m["state"] for m in r["index_before"]}  # type: ignore[attr-defined]
    assert index == {
        "all-MiniLM-L6-v2": "READY",
        "sentiment": "READY",
        "ner": "READY",
        "sentiment-spacy": "READY",
        "gemma-3-270m": "READY",
        "smollm2-135m-instruct": "READY",
        "efficientnet-lite0": "READY",
        "ocr": "READY",
    }
    unloaded = {m["name"]: m["state"] for m in r["index_unloaded"]}  # type: ignore[attr-defined]
    assert unloaded["sentiment"] == "UNAVAILABLE"
    assert r["ready_after_unload"] is False
    assert r["ready_after_load"] is True
    assert r["sentiment_after_reload"] == "positive"


def test_node_client_runs_against_the_suite(suite: str) -> None:
    prepared.node_modules()
    env = {**os.environ, "MODELPORT_TARGET": suite}
    test = subprocess.run(
        ["npm", "test", "--silent"], cwd=NODE, env=env, capture_output=True, text=True, timeout=600
    )
    assert test.returncode == 0, test.stdout + test.stderr
    assert "# pass 5" in test.stdout
    assert "# fail 0" in test.stdout
    example = subprocess.run(
        ["node", "dist/src/example.js", suite],
        cwd=NODE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert example.returncode == 0, example.stderr
    assert "embedding: 384 dimensions" in example.stdout
    assert "sentiment: positive" in example.stdout
    assert "generate: Once upon a time" in example.stdout


def test_node_types_match_the_protos(tmp_path: Path) -> None:
    prepared.node_modules()
    out = tmp_path / "generated"
    subprocess.run(
        ["npm", "run", "--silent", "generate"],
        cwd=NODE,
        check=True,
        env={**os.environ, "OUT_DIR": str(out)},
        capture_output=True,
    )
    comparison = filecmp.dircmp(NODE / "generated", out)
    drift: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str = "") -> None:
        drift.extend(prefix + f for f in cmp.diff_files + cmp.left_only + cmp.right_only)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(comparison)
    assert not drift, f"Node types drifted from protos/, run `make node-stubs`: {drift}"


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_lists_every_service_on_the_router(suite: str, version: str) -> None:
    with grpc.insecure_channel(suite) as channel:
        info = channel.stream_stream(  # v1 and v1alpha share their messages
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(iter(info(iter([request]), timeout=10)))
    names = {s.name for s in response.list_services_response.service}
    assert {
        "inference.GRPCInferenceService",
        "modelport.v1.EmbeddingService",
        "modelport.v1.NlpService",
        "modelport.v1.VisionService",
        "modelport.v1.RegistryService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names


def test_the_default_suite_encodes_text_on_onnx_runtime(suite: str) -> None:
    """The default models that ONNX Runtime can run (MiniLM embeddings, the sentiment
    prototypes on it) load on it, checked against torch, before the suite is ready."""
    with grpc.insecure_channel(suite) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        models = registry.ListModels(registry_pb2.ListModelsRequest(), timeout=10).models
    metadata = {m.name: m.versions[0].metadata for m in models}
    for name in ("all-MiniLM-L6-v2", "sentiment"):
        assert metadata[name]["engine"] == "onnxruntime", metadata[name]
        assert float(metadata[name]["engine_probe_min_cosine"]) >= 0.99999
    assert metadata["gemma-3-270m"].get("engine", "torch") == "torch"
