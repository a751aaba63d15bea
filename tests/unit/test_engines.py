"""Engines behind the sentence encoder: the ONNX export is made once and reused, its
vectors equal eager torch's, and where it cannot serve (a failed check, an unsupported
dtype) the model serves with torch and says why."""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from modelport.inference.settings import EngineOptions
from modelport.ml.engines import EngineChoice, Forward, Graph, load_engine
from modelport.ml.sentence import SentenceEncoder
from modelport.serving.errors import ConfigError

TEXTS = ["a short one", "a somewhat longer sentence with more words in it", "x", "the cat"]


def encoder(
    root: Path,
    cache: Path,
    kind: str = "onnxruntime",
    dtype: torch.dtype = torch.float32,
    **options: Any,
) -> SentenceEncoder:
    choice = EngineChoice(
        kind,  # type: ignore[arg-type]
        EngineOptions(**options),
        cache,
        torch.device("cpu"),
        dtype,
    )
    return SentenceEncoder(root, torch.device("cpu"), dtype, 16384, choice)


def vectors(enc: SentenceEncoder, texts: list[str] = TEXTS) -> np.ndarray:
    return np.stack(enc.encode(enc.tokenize_texts(texts)))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    dot = (a64 * b64).sum(axis=1)
    result: np.ndarray = dot / (np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1))
    return result


def exports(cache: Path) -> list[Path]:
    return sorted((cache / "onnx").glob("*/model.onnx"))


def test_export_is_made_once_and_reused(
    tiny_bert_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="modelport.ml.engines")
    first = encoder(tiny_bert_dir, tmp_path)
    assert first.engine.kind == "onnxruntime"
    [path] = exports(tmp_path)
    before = path.stat()
    record = json.loads((path.parent / "export.json").read_text())
    assert len(record["weights_sha256"]) == 64
    assert record["exporter"].startswith(f"torch {torch.__version__}")
    assert record["onnxruntime"]
    assert "exporting to ONNX once" in caplog.text

    caplog.clear()
    second = encoder(tiny_bert_dir, tmp_path)
    assert second.engine.kind == "onnxruntime"
    assert exports(tmp_path) == [path]
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "using the cached ONNX export" in caplog.text
    assert "exporting" not in caplog.text
    np.testing.assert_array_equal(vectors(first), vectors(second))


def test_other_weights_get_their_own_export(tiny_bert_dir: Path, tmp_path: Path) -> None:
    from transformers import BertModel

    changed = tmp_path / "changed"
    shutil.copytree(tiny_bert_dir, changed)
    model = BertModel.from_pretrained(changed)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.add_(0.5)
    model.save_pretrained(changed)
    cache = tmp_path / "cache"
    encoder(tiny_bert_dir, cache)
    encoder(changed, cache)
    assert len(exports(cache)) == 2


def test_onnx_vectors_equal_eager_vectors(tiny_bert_dir: Path, tmp_path: Path) -> None:
    onnx = encoder(tiny_bert_dir, tmp_path)
    eager = encoder(tiny_bert_dir, tmp_path, kind="torch")
    assert eager.engine.kind == "torch"
    long_text = "embeddings map text to vectors " * 20
    texts = [*TEXTS, long_text]
    assert cosines(vectors(onnx, texts), vectors(eager, texts)).min() >= 0.99999
    described = onnx.engine.describe()
    assert described["engine"] == "onnxruntime"
    assert described["engine_precision"] == "fp32"
    assert float(described["engine_probe_min_cosine"]) >= 0.99999


def test_a_failed_check_serves_with_torch_and_says_why(tiny_bert_dir: Path, tmp_path: Path) -> None:
    strict = encoder(tiny_bert_dir, tmp_path, min_cosine=1.0)
    described = strict.engine.describe()
    assert described["engine"] == "torch"
    assert described["engine_requested"] == "onnxruntime"
    assert "disagrees with torch" in described["engine_reason"]
    assert "min_cosine 1.0" in described["engine_reason"]
    eager = encoder(tiny_bert_dir, tmp_path, kind="torch")
    np.testing.assert_array_equal(vectors(strict), vectors(eager))


def test_unsupported_dtype_serves_with_torch_and_says_why(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    enc = encoder(tiny_bert_dir, tmp_path, kind="auto", dtype=torch.bfloat16)
    assert enc.engine.kind == "torch"
    assert "float32" in enc.engine.describe()["engine_reason"]
    assert exports(tmp_path) == []


def test_torch_engine_exports_nothing(tiny_bert_dir: Path, tmp_path: Path) -> None:
    enc = encoder(tiny_bert_dir, tmp_path, kind="torch")
    assert enc.engine.describe()["engine"] == "torch"
    assert "engine_reason" not in enc.engine.describe()
    assert not (tmp_path / "onnx").exists()


@pytest.mark.parametrize("kind", ["torch", "onnxruntime"])
def test_buckets_pad_every_batch_and_are_warmed_at_load(
    kind: str, tiny_bert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = encoder(tiny_bert_dir, tmp_path, kind=kind)
    bucketed = encoder(
        tiny_bert_dir, tmp_path, kind=kind, batch_buckets=[2, 4], sequence_buckets=[8, 16]
    )
    assert bucketed.engine.kind == kind
    assert bucketed.engine.describe()["engine_buckets"] == (
        "batch 2,4 x sequence 8,16; 4 shapes warmed at load"
    )
    seen: list[tuple[int, ...]] = []
    forward = bucketed.engine.forward

    def recording(inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        seen.append(tuple(inputs["input_ids"].shape))
        return forward(inputs)

    monkeypatch.setattr(bucketed.engine, "forward", recording)
    texts = [*TEXTS[:3], "embeddings map text to vectors " * 10]
    assert cosines(vectors(bucketed, texts), vectors(plain, texts)).min() >= 0.99999
    assert seen
    assert set(seen) <= {(2, 8), (2, 16), (4, 8), (4, 16)}


def test_sequence_buckets_stay_within_the_model(tiny_bert_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="longer than the 16 tokens"):
        encoder(tiny_bert_dir, tmp_path, kind="torch", sequence_buckets=[8, 32])


def test_int8_serves_only_where_its_gate_passes(tiny_bert_dir: Path, tmp_path: Path) -> None:
    lenient = encoder(
        tiny_bert_dir,
        tmp_path,
        quantize="int8",
        int8_min_mean_cosine=0.0,
        int8_min_neighbour_agreement=0.0,
    )
    described = lenient.engine.describe()
    assert described["engine_precision"] == "int8"
    assert 0 < float(described["engine_int8_mean_cosine"]) <= 1
    assert "nearest-neighbour agreement" in described["engine_int8_agreement"]
    assert float(described["engine_probe_min_cosine"]) >= 0.99999  # the fp32 check, first
    [path] = exports(tmp_path)
    assert (path.parent / "model.int8.onnx").exists()

    strict = encoder(
        tiny_bert_dir,
        tmp_path,
        quantize="int8",
        int8_min_mean_cosine=1.0,
        int8_min_neighbour_agreement=1.0,
    )
    described = strict.engine.describe()
    assert described["engine"] == "onnxruntime"
    assert described["engine_precision"] == "fp32"
    assert described["engine_int8_reason"].startswith("int8 failed its gate")
    assert "engine_int8_mean_cosine" in described


class _LeavesTorch(torch.nn.Module):
    """Leaves torch for numpy in its forward: the tracer records the example's result as
    a constant, so the exported graph does not generalise."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.tanh(x.detach().numpy())) * self.scale


class _CustomOp(torch.nn.Module):
    """Stands for a model with an operator no exporter knows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing():  # type: ignore[attr-defined,no-untyped-call]
            raise RuntimeError("no symbolic for modelport::custom")
        return torch.tanh(x)


def _graph(module: torch.nn.Module) -> Graph:
    return Graph(
        module=Forward(module, ("x",), None),
        dynamic_axes={"x": {0: "batch"}, "output": {0: "batch"}},
        weights=(),
        probe=({"x": torch.randn(3, 4)}, {"x": torch.randn(5, 4)}),
        rows=lambda out, _: out,
        compare="logits",
    )


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        (_CustomOp, "ONNX export failed: RuntimeError: no symbolic for modelport::custom"),
        (_LeavesTorch, "ONNX Runtime failed on the probe batches"),
    ],
)
def test_a_graph_onnx_runtime_cannot_serve_stays_on_torch_and_says_why(
    module: type[torch.nn.Module], reason: str, tmp_path: Path
) -> None:
    cpu = torch.device("cpu")
    choice = EngineChoice("onnxruntime", EngineOptions(), tmp_path, cpu, torch.float32)
    engine = load_engine(_graph(module()), choice, module.__name__)
    assert engine.kind == "torch"
    assert engine.describe()["engine_reason"].startswith(reason)
    x = torch.randn(2, 4)
    torch.testing.assert_close(engine.run({"x": x}), torch.tanh(x))


def test_auto_on_a_gpu_stays_on_torch_and_says_why(tmp_path: Path) -> None:
    choice = EngineChoice("auto", EngineOptions(), tmp_path, torch.device("cuda"), torch.float16)
    engine = load_engine(_graph(torch.nn.Linear(4, 4)), choice, "on-gpu")  # nothing runs
    assert engine.kind == "torch"
    assert "runs on CPU here" in engine.describe()["engine_reason"]
    assert not (tmp_path / "onnx").exists()


class HubExport(torch.nn.Module):
    """A BERT as the hub's ONNX files take it: segment ids as a third input, and
    `last_hidden_state` beside `pooler_output`."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        return out.last_hidden_state, out.pooler_output


def ship_onnx(source: Path, folder: Path, shift: float = 0.0) -> Path:
    """A copy of the model folder `source` that ships `onnx/model.onnx` (of its own
    weights, or of weights moved by `shift`, which then disagree with it)."""
    from transformers import BertModel

    shutil.copytree(source, folder)
    model = BertModel.from_pretrained(folder, attn_implementation="eager")
    model.train(False)
    with torch.no_grad():  # noise (a constant shift would vanish in the layer norm)
        weight = model.embeddings.word_embeddings.weight
        weight.add_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(1)) * shift)
    ids = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0]])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {0: "batch", 1: "sequence"}
    (folder / "onnx").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on transformers' shape checks
        torch.onnx.export(
            HubExport(model),
            (ids, (ids != 0).long(), torch.zeros_like(ids)),
            str(folder / "onnx" / "model.onnx"),
            input_names=names,
            output_names=["last_hidden_state", "pooler_output"],
            dynamic_axes={**{n: axes for n in names}, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    return folder / "onnx" / "model.onnx"


def test_a_shipped_onnx_file_is_served_as_it_is(tiny_bert_dir: Path, tmp_path: Path) -> None:
    shipped = ship_onnx(tiny_bert_dir, tmp_path / "model")
    cache = tmp_path / "cache"
    onnx = encoder(shipped.parent.parent, cache)
    described = onnx.engine.describe()
    assert described["engine"] == "onnxruntime"
    assert described["engine_source"] == f"shipped {shipped}"
    assert exports(cache) == []  # nothing exported
    eager = encoder(tiny_bert_dir, cache, kind="torch")
    long_text = "embeddings map text to vectors " * 20
    texts = [*TEXTS, long_text]
    assert cosines(vectors(onnx, texts), vectors(eager, texts)).min() >= 0.99999

    exported = encoder(shipped.parent.parent, cache, use_shipped_onnx=False)
    assert exported.engine.describe()["engine_source"] == "exported"
    assert len(exports(cache)) == 1


def test_a_shipped_onnx_file_that_disagrees_serves_torch_and_says_why(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    shipped = ship_onnx(tiny_bert_dir, tmp_path / "model", shift=0.5)
    enc = encoder(shipped.parent.parent, tmp_path / "cache")
    described = enc.engine.describe()
    assert described["engine"] == "torch"
    assert f"shipped {shipped}" in described["engine_reason"]
    assert "disagrees with torch" in described["engine_reason"]


def test_a_shipped_file_that_is_no_onnx_serves_torch_and_says_why(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, folder)
    (folder / "model.onnx").write_bytes(b"not an onnx graph")
    described = encoder(folder, tmp_path / "cache").engine.describe()
    assert described["engine"] == "torch"
    reason = described["engine_reason"]
    assert f"shipped ONNX file {folder / 'model.onnx'} cannot be opened" in reason


def test_int8_of_a_shipped_file_is_cached_outside_the_model_folder(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    shipped = ship_onnx(tiny_bert_dir, tmp_path / "model")
    cache = tmp_path / "cache"
    encoder(
        shipped.parent.parent,
        cache,
        quantize="int8",
        int8_min_mean_cosine=0,
        int8_min_neighbour_agreement=0,
    )
    assert sorted(p.name for p in shipped.parent.iterdir()) == ["model.onnx"]
    [int8] = (cache / "onnx").glob("shipped-*/model.int8.onnx")
    assert int8.stat().st_size > 0


def test_an_export_keeps_one_graph_in_the_cache(tiny_bert_dir: Path, tmp_path: Path) -> None:
    encoder(tiny_bert_dir, tmp_path)
    [path] = exports(tmp_path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["export.json", "model.onnx"]
