"""Device and dtype choice: CPU float32 unless asked; CUDA float16 by default on a GPU.
The CUDA half runs only where a GPU is (marker `gpu`, skipped elsewhere)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from modelport.inference.settings import ModelSpec, with_default_device
from modelport.ml.device import select_device
from modelport.ml.sentence import SentenceEncoder
from modelport.nlp.settings import NlpSettings, SpacyNerSpec
from modelport.vision.settings import RapidOcrSpec

TEXTS = ["a short one", "a somewhat longer sentence with more words in it"]


def spec(**fields: str) -> ModelSpec:
    return ModelSpec.model_validate(
        {"name": "m", "runtime": "sentence-embedding", "path": "/m", **fields}
    )


def test_cpu_is_float32_unless_a_dtype_is_asked() -> None:
    assert select_device(spec(device="cpu")) == (torch.device("cpu"), torch.float32)
    assert select_device(spec(device="cpu", dtype="bfloat16"))[1] is torch.bfloat16


def test_auto_follows_the_machine() -> None:
    device, dtype = select_device(spec())
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.type == expected
    assert dtype is (torch.float16 if expected == "cuda" else torch.float32)


@pytest.mark.gpu
def test_cuda_float16_vectors_match_cpu_float32(tiny_bert_dir: Path) -> None:
    device, dtype = select_device(spec(device="cuda"))
    assert (device.type, dtype) == ("cuda", torch.float16)
    gpu = SentenceEncoder(tiny_bert_dir, device, dtype, 16384)
    cpu = SentenceEncoder(tiny_bert_dir, torch.device("cpu"), torch.float32, 16384)
    ids = cpu.tokenize_texts(TEXTS)
    np.testing.assert_allclose(
        np.stack(gpu.encode(ids)), np.stack(cpu.encode(ids)), rtol=1e-2, atol=1e-2
    )


def test_the_process_default_device_replaces_auto_for_torch_runtimes_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELPORT_DEFAULT_DEVICE", "cuda")
    assert NlpSettings().default_device == "cuda"
    assert with_default_device(spec(), "cuda").device == "cuda"
    assert with_default_device(spec(), "cpu").device == "cpu"
    assert with_default_device(spec(), "auto").device == "auto"
    assert with_default_device(spec(device="cpu"), "cuda").device == "cpu"  # said, kept
    spacy = SpacyNerSpec(name="ner", package="en_core_web_sm")
    ocr = RapidOcrSpec(name="ocr")
    assert with_default_device(spacy, "cuda").device == "auto"  # spaCy runs on the CPU
    assert with_default_device(ocr, "cuda").device == "auto"  # CPU ONNX Runtime


def test_a_default_device_that_is_not_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPORT_DEFAULT_DEVICE", "gpu")
    with pytest.raises(ValidationError, match="default_device"):
        NlpSettings()
