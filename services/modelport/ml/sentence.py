"""Sentence embeddings as a sentence-transformers folder defines them.

Reads the folder's own configuration (`modules.json`, the Pooling module's
`config.json`, `sentence_bert_config.json`) so pooling, normalisation and the maximum
sequence length are what the model's authors set; plain transformers folders (no
`modules.json`) get mean pooling without normalisation. A pooling configuration
Modelport cannot reproduce exactly is refused with `ConfigError`, never approximated.
Used by the embedding service and by the NLP service's label-prototype classifier.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from modelport.inference.text import Truncation
from modelport.ml.engines import EngineChoice, Graph, load_engine
from modelport.ml.hf import text_graph
from modelport.ml.text import TextEncoder
from modelport.serving.errors import ConfigError

POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken")

_LEGACY_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
"""The boolean keys sentence-transformers before 6 wrote (and published models ship)."""

_MODE_NAMES = {**{m: m for m in POOLING_MODES}, "mean_sqrt_len_tokens": "mean_sqrt_len"}
"""Values of the `pooling_mode` key sentence-transformers 6 writes."""


def pooling_mode(config: dict[str, Any], source: str = "pooling config") -> str:
    """The one pooling mode a Pooling module's `config.json` names.

    Unknown keys or modes, several modes at once (sentence-transformers would concatenate
    them) and no mode at all raise `ConfigError`.
    """
    modes: list[str] = []
    if "pooling_mode" in config:
        value = config["pooling_mode"]
        names = value if isinstance(value, list) else [value]
        for name in names:
            if name not in _MODE_NAMES:
                raise ConfigError(
                    f"{source}: pooling mode {name!r} is not supported "
                    f"(supported: {', '.join(POOLING_MODES)})"
                )
            modes.append(_MODE_NAMES[name])
    else:
        for key, value in config.items():
            if key in _LEGACY_KEYS:
                if value:
                    modes.append(_LEGACY_KEYS[key])
            elif key.startswith("pooling_mode"):
                raise ConfigError(f"{source}: unknown pooling key {key!r}")
    if len(modes) > 1:
        raise ConfigError(
            f"{source}: more than one pooling mode ({', '.join(modes)}); Modelport serves one"
        )
    if not modes:
        raise ConfigError(f"{source}: no pooling mode is set")
    return modes[0]


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool right-padded token states `[batch, tokens, dim]` into `[batch, dim]`, exactly as
    sentence-transformers' Pooling module does."""
    if mode == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "max":
        return hidden.masked_fill(weights == 0, float("-inf")).max(dim=1).values
    if mode == "lasttoken":
        last = mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0]), last]
    if mode == "weightedmean":
        positions = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype)
        weights = weights * positions.view(1, -1, 1)
    summed = (hidden * weights).sum(dim=1)
    counts = weights.sum(dim=1).clamp(min=1e-9)
    if mode == "mean_sqrt_len":
        return summed / counts.sqrt()
    if mode in ("mean", "weightedmean"):
        return summed / counts
    raise ConfigError(f"unknown pooling mode {mode!r}")


@dataclass(frozen=True)
class SentenceConfig:
    """The parts of a sentence-transformers folder that decide the vectors."""

    pooling: str
    normalize: bool
    max_seq_length: int | None
    transformer_dir: Path

    @classmethod
    def read(cls, root: Path) -> SentenceConfig:
        modules_file = root / "modules.json"
        if not modules_file.exists():
            return cls("mean", False, None, root)
        modules = json.loads(modules_file.read_text())
        pooling, normalize, transformer_dir = "mean", False, root
        for module in modules:
            kind = module["type"].rsplit(".", 1)[-1]
            path = root / module.get("path", "")
            if kind == "Transformer":
                transformer_dir = path
            elif kind == "Pooling":
                config_file = path / "config.json"
                pooling = pooling_mode(json.loads(config_file.read_text()), str(config_file))
            elif kind == "Normalize":
                normalize = True
        max_len = None
        st_config = transformer_dir / "sentence_bert_config.json"
        if st_config.exists():
            max_len = json.loads(st_config.read_text()).get("max_seq_length")
        return cls(pooling, normalize, max_len, transformer_dir)


class SentenceEncoder:
    """Tokenise and encode texts as a sentence-transformers folder says (thread-safe for
    one compute thread plus one preprocessing thread).

    The transformer's forward pass runs on the engine `engine` picks (eager torch when
    none is given); tokenising, pooling and normalising are the same for every engine.
    """

    def __init__(
        self,
        root: Path,
        device: torch.device,
        dtype: torch.dtype,
        max_padded_tokens: int,
        engine: EngineChoice | None = None,
        *,
        keep_torch: bool = False,
    ) -> None:
        """`keep_torch`: keep the torch model as `model` whatever engine serves (for
        gradients); otherwise it is dropped when ONNX Runtime serves."""
        self.config = SentenceConfig.read(root)
        self.device = device
        tokenizer = AutoTokenizer.from_pretrained(
            self.config.transformer_dir, local_files_only=True
        )
        model = (
            AutoModel.from_pretrained(
                self.config.transformer_dir, local_files_only=True, dtype=dtype
            )
            .to(device)
            .eval()
        )
        positions = getattr(model.config, "max_position_embeddings", None) or 512
        self.max_length = min(self.config.max_seq_length or positions, positions)
        self.dimension = int(model.config.hidden_size)
        self.text = TextEncoder(tokenizer, self.max_length, max_padded_tokens)
        self.engine = load_engine(
            self._graph(model),
            engine or EngineChoice.eager(device, dtype),
            str(root),
        )
        self.model: Any = model.requires_grad_(False) if keep_torch else None

    def _graph(self, model: Any) -> Graph:
        pooling = self.config.pooling
        return text_graph(
            model,
            self.text,
            self.config.transformer_dir,
            "last_hidden_state",
            {0: "batch", 1: "sequence"},
            lambda hidden, inputs: pool(
                hidden, inputs["attention_mask"].to(hidden.device), pooling
            ),
            "vectors",
        )

    def tokenize_texts(
        self, texts: Sequence[str], policy: Truncation = Truncation.END, field: str = "inputs"
    ) -> list[list[int]]:
        """Token ids with special tokens, truncated as `policy` says."""
        return self.text.tokenize(texts, policy, field)

    def encode(self, batch: Sequence[list[int]]) -> list[np.ndarray]:
        """Pooled float32 vectors (not normalised), grouped by length to cut padding."""
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(batch)
        for group, ids, mask in self.text.padded_groups(batch):
            with torch.inference_mode():
                hidden = self.engine.run({"input_ids": ids, "attention_mask": mask})
                mask = mask.to(hidden.device)
                vectors = pool(hidden, mask, self.config.pooling).float().cpu()
            for row, i in enumerate(group):
                out[i] = vectors[row].numpy()
        return out


def normalized(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    out: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return out
