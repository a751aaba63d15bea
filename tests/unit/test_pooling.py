"""Pooling as the folder's own sentence-transformers config says, for every mode
sentence-transformers writes and with every engine; configurations Modelport cannot
honour are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch

from modelport.inference.settings import EngineOptions
from modelport.ml.engines import EngineChoice
from modelport.ml.sentence import SentenceConfig, SentenceEncoder
from modelport.serving.errors import ConfigError

TEXTS = ["a short one", "a somewhat longer sentence with more words in it", "x"]
# (legacy boolean key that published models ship, sentence-transformers' current mode name,
# Modelport's name)
MODES = [
    ("pooling_mode_cls_token", "cls", "cls"),
    ("pooling_mode_mean_tokens", "mean", "mean"),
    ("pooling_mode_max_tokens", "max", "max"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens", "mean_sqrt_len"),
    ("pooling_mode_weightedmean_tokens", "weightedmean", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken", "lasttoken"),
]


def with_pooling(tiny_bert_dir: Path, tmp_path: Path, config: dict[str, object]) -> Path:
    root = tmp_path / "model"
    shutil.copytree(tiny_bert_dir, root)
    (root / "1_Pooling" / "config.json").write_text(json.dumps(config))
    return root


def legacy_config(key: str) -> dict[str, object]:
    """The file older sentence-transformers wrote, as Qwen3-Embedding or e5-mistral ship it."""
    config: dict[str, object] = {"word_embedding_dimension": 32}
    config.update({legacy: legacy == key for legacy, _, _ in MODES})
    return config


def current_config(mode: str) -> dict[str, object]:
    """The file sentence-transformers writes today for `mode`."""
    from sentence_transformers.sentence_transformer.modules import Pooling

    return dict(Pooling(32, pooling_mode=mode).get_config_dict())


@pytest.fixture(scope="module")
def engine_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export of the tiny model serves every pooling mode (pooling runs after it)."""
    return tmp_path_factory.mktemp("engine-cache")


@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
@pytest.mark.parametrize("form", ["legacy", "current"])
@pytest.mark.parametrize(("legacy", "current", "ours"), MODES)
def test_every_sentence_transformers_mode_gives_its_vectors(
    engine: Literal["torch", "onnxruntime"],
    form: str,
    legacy: str,
    current: str,
    ours: str,
    tiny_bert_dir: Path,
    tmp_path: Path,
    engine_cache: Path,
) -> None:
    from sentence_transformers import SentenceTransformer

    config = legacy_config(legacy) if form == "legacy" else current_config(current)
    root = with_pooling(tiny_bert_dir, tmp_path, config)
    assert SentenceConfig.read(root).pooling == ours
    cpu = torch.device("cpu")
    choice = EngineChoice(engine, EngineOptions(), engine_cache, cpu, torch.float32)
    encoder = SentenceEncoder(root, cpu, torch.float32, 16384, choice)
    assert encoder.engine.kind == engine
    got = np.stack(encoder.encode(encoder.tokenize_texts(TEXTS)))
    got /= np.linalg.norm(got, axis=1, keepdims=True)
    expected = SentenceTransformer(str(root), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"pooling_mode": "median"}, "median"),
        ({"pooling_mode": ["cls", "mean"]}, "more than one"),
        ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": True}, "more than one"),
        ({"pooling_mode_median_tokens": True}, "pooling_mode_median_tokens"),
        ({"word_embedding_dimension": 32}, "no pooling mode"),
    ],
)
def test_unknown_or_several_pooling_modes_are_refused(
    config: dict[str, object], reason: str, tiny_bert_dir: Path, tmp_path: Path
) -> None:
    root = with_pooling(tiny_bert_dir, tmp_path, config)
    with pytest.raises(ConfigError, match=reason):
        SentenceConfig.read(root)
