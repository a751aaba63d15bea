"""Sentence-embedding runtime for Hugging Face / sentence-transformers model folders.

Reads the folder's own sentence-transformers configuration (`modules.json`,
`1_Pooling/config.json`, `sentence_bert_config.json`) so pooling, normalisation and the
maximum sequence length are what the model's authors set; plain transformers folders
fall back to mean pooling without normalisation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from modelport.runtime.errors import ModelportError
from modelport.runtime.model import Model, ModelMetadata, Task, TensorSpec
from modelport.runtime.text import Truncation, length_groups, special_tokens, truncate
from modelport.runtime.torch_utils import select_device

log = logging.getLogger(__name__)

POOLING_MODES = ("cls", "mean", "max", "mean_sqrt_len", "lasttoken")


@dataclass(frozen=True)
class EmbedItem:
    """One text, tokenised, with what the caller asked for its vector."""

    ids: list[int]
    normalize: bool
    dimensions: int


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
                pooling = _pooling_mode(json.loads((path / "config.json").read_text()))
            elif kind == "Normalize":
                normalize = True
        max_len = None
        st_config = transformer_dir / "sentence_bert_config.json"
        if st_config.exists():
            max_len = json.loads(st_config.read_text()).get("max_seq_length")
        return cls(pooling, normalize, max_len, transformer_dir)


def _pooling_mode(config: dict[str, Any]) -> str:
    if "pooling_mode" in config:
        return str(config["pooling_mode"])
    for mode in POOLING_MODES:
        if config.get(f"pooling_mode_{mode}_token") or config.get(f"pooling_mode_{mode}_tokens"):
            return mode
    if config.get("pooling_mode_mean_sqrt_len_tokens"):
        return "mean_sqrt_len"
    return "mean"


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool token states `[batch, tokens, dim]` into sentence vectors `[batch, dim]`."""
    if mode == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "max":
        return hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
    if mode == "lasttoken":
        last = mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.shape[0]), last]
    summed = (hidden * weights).sum(dim=1)
    counts = weights.sum(dim=1).clamp(min=1e-9)
    if mode == "mean_sqrt_len":
        return summed / counts.sqrt()
    if mode == "mean":
        return summed / counts
    raise ValueError(f"unknown pooling mode {mode!r}")


class SentenceEncoder:
    """Tokenise and encode texts as a sentence-transformers folder says (thread-safe for
    one compute thread plus one preprocessing thread)."""

    def __init__(
        self, root: Path, device: torch.device, dtype: torch.dtype, max_batch_tokens: int
    ) -> None:
        self.config = SentenceConfig.read(root)
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(
            self.config.transformer_dir, local_files_only=True
        )
        self.model = (
            AutoModel.from_pretrained(
                self.config.transformer_dir, local_files_only=True, dtype=dtype
            )
            .to(device)
            .eval()
        )
        positions = getattr(self.model.config, "max_position_embeddings", None) or 512
        self.max_length = min(self.config.max_seq_length or positions, positions)
        self.dimension = int(self.model.config.hidden_size)
        self.max_batch_tokens = max_batch_tokens
        self._prefix, self._suffix = special_tokens(self.tokenizer)

    def tokenize(
        self, texts: Sequence[str], policy: Truncation, field: str = "inputs"
    ) -> list[list[int]]:
        """Token ids with special tokens, truncated as `policy` says."""
        encoded = self.tokenizer(
            list(texts), add_special_tokens=False, truncation=False, verbose=False
        )["input_ids"]
        limit = self.max_length - len(self._prefix) - len(self._suffix)
        return [
            [*self._prefix, *truncate(ids, limit, policy, f"{field}[{i}]"), *self._suffix]
            for i, ids in enumerate(encoded)
        ]

    def encode(self, batch: Sequence[list[int]]) -> list[np.ndarray]:
        """Pooled float32 vectors (not normalised), grouped by length to cut padding."""
        pad = self.tokenizer.pad_token_id or 0
        out: list[np.ndarray] = [np.empty(0, np.float32)] * len(batch)
        for group in length_groups([len(ids) for ids in batch], self.max_batch_tokens):
            width = max(len(batch[i]) for i in group)
            ids = torch.full((len(group), width), pad, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for row, i in enumerate(group):
                n = len(batch[i])
                ids[row, :n] = torch.tensor(batch[i])
                mask[row, :n] = 1
            with torch.inference_mode():
                hidden = self.model(
                    input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
                ).last_hidden_state
                vectors = pool(hidden, mask.to(self.device), self.config.pooling).float().cpu()
            for row, i in enumerate(group):
                out[i] = vectors[row].numpy()
        return out


class SentenceEmbeddingModel(Model[EmbedItem, np.ndarray]):
    """`runtime: sentence-embedding`. Options: `max_batch_tokens` (padded tokens per
    forward pass, default 16384)."""

    task = Task.EMBEDDING

    def load_weights(self) -> None:
        root = self.spec.resolve_path()
        device, dtype = select_device(self.spec)
        self.encoder = SentenceEncoder(
            root, device, dtype, int(self.spec.options.get("max_batch_tokens", 16384))
        )
        self.config = self.encoder.config
        self.dimension = self.encoder.dimension
        log.info(
            "loaded %s from %s: dim=%d pooling=%s normalize=%s max_length=%d device=%s",
            self.name,
            root,
            self.dimension,
            self.config.pooling,
            self.config.normalize,
            self.encoder.max_length,
            device,
        )

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(
            task=self.task,
            inputs=(TensorSpec("text", "BYTES", (-1,)),),
            outputs=(TensorSpec("embedding", "FP32", (-1, self.dimension)),),
            properties={
                "dimensions": str(self.dimension),
                "max_sequence_length": str(self.encoder.max_length),
                "pooling": self.config.pooling,
                "normalize": str(self.config.normalize).lower(),
            },
        )

    def tokenize(self, texts: Sequence[str], policy: Truncation) -> list[list[int]]:
        """Token ids with special tokens (preprocess thread)."""
        return self.encoder.tokenize(texts, policy)

    def warmup_batch(self) -> list[EmbedItem]:
        ids = self.tokenize(["Modelport warms this model up."], Truncation.END)[0]
        return [EmbedItem(ids, self.config.normalize, 0)]

    def predict_batch(self, batch: Sequence[EmbedItem]) -> list[np.ndarray | ModelportError]:
        vectors = self.encoder.encode([item.ids for item in batch])
        return [_finish(v, item) for v, item in zip(vectors, batch, strict=True)]

    async def unload(self) -> None:
        vars(self).pop("encoder", None)  # absent when loading failed
        await super().unload()


def _finish(vector: np.ndarray, item: EmbedItem) -> np.ndarray:
    if item.dimensions:
        vector = vector[: item.dimensions]
    if item.normalize:
        vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return vector.astype(np.float32, copy=False)
