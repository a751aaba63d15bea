from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelport.inference.text import TextLimits, Truncation, validate_texts
from modelport.ml.text import CHARS_PER_TOKEN, TextEncoder, length_groups, truncate
from modelport.serving.errors import InvalidArgument


def test_truncate_keeps_the_requested_end() -> None:
    ids = list(range(10))
    assert truncate(ids, 4, Truncation.END, "inputs[0]") == [0, 1, 2, 3]
    assert truncate(ids, 4, Truncation.START, "inputs[0]") == [6, 7, 8, 9]
    assert truncate(ids, 10, Truncation.NONE, "inputs[0]") == ids


def test_truncation_off_names_the_input_and_the_limit() -> None:
    with pytest.raises(InvalidArgument) as info:
        truncate(list(range(10)), 4, Truncation.NONE, "inputs[3]")
    assert info.value.violations[0].field == "inputs[3]"
    assert "at most 4" in info.value.message


@pytest.mark.parametrize(
    ("texts", "field", "description"),
    [
        ([], "inputs", "must contain at least one text"),
        (["ok", ""], "inputs[1]", "is empty"),
        (["ok", "   "], "inputs[1]", "is only whitespace"),
        (["\t\n\u3000"], "inputs[0]", "is only whitespace"),
        (["x"] * 3, "inputs", "has 3 texts; at most 2 per call"),
    ],
)
def test_texts_a_model_cannot_use_are_refused_naming_the_input(
    texts: list[str], field: str, description: str
) -> None:
    with pytest.raises(InvalidArgument) as info:
        validate_texts(texts, "inputs", TextLimits(max_inputs=2))
    assert info.value.violations[0].field == field
    assert info.value.violations[0].description == description


def test_text_with_whitespace_around_words_is_accepted() -> None:
    validate_texts([" hello ", "\nworld"], "inputs", TextLimits(max_inputs=2))


def test_length_groups_cover_every_index_once_within_budget() -> None:
    lengths = [3, 100, 4, 90, 5, 2, 95]
    groups = length_groups(lengths, max_padded_tokens=200)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for group in groups:
        assert len(group) == 1 or max(lengths[i] for i in group) * len(group) <= 200
    # short texts are not padded to the long ones
    assert any(set(g) == {0, 2, 4, 5} for g in groups)


# Huge inputs: only the part of a text the model can read is tokenised, and the ids kept
# are exactly those of the whole text.

WORDS = [
    "serving",
    "models",
    "over",
    "grpc",
    "keeps",
    "latency",
    "low",
    "while",
    "batching",
    "raises",
    "throughput",
]
HUGE = " ".join(WORDS[i % len(WORDS)] for i in range(2_000_000))  # about 16 MiB


class Recording:
    """A tokenizer that counts the characters it is asked to tokenise."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.chars = 0
        self.pad_token_id = tokenizer.pad_token_id

    def __call__(self, texts: list[str], **kwargs: Any) -> Any:
        self.chars += sum(len(t) for t in texts)
        return self.tokenizer(texts, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


def tokenizers(tiny_bert_dir: Path, tiny_gpt2_dir: Path, minilm_dir: Path) -> list[Any]:
    from transformers import AutoTokenizer

    return [
        AutoTokenizer.from_pretrained(path, local_files_only=True)
        for path in (tiny_bert_dir, tiny_gpt2_dir, minilm_dir)
    ]


def texts() -> list[str]:
    long = " ".join(WORDS[i % len(WORDS)] for i in range(3000))
    return [
        "short",
        long,
        "ünïcödé wörds " * 700,
        "x" * 5000 + " " + long,  # one huge unknown word first
        long + " " + "y" * 40 + " tail",
        "schönes Wetter heute 😀 " * 400,
    ]


@pytest.mark.parametrize("policy", [Truncation.END, Truncation.START])
def test_windows_give_the_ids_of_the_whole_text(
    policy: Truncation, tiny_bert_dir: Path, tiny_gpt2_dir: Path, minilm_dir: Path
) -> None:
    for tokenizer in tokenizers(tiny_bert_dir, tiny_gpt2_dir, minilm_dir):
        for limit in (16, 128, 256):
            encoder = TextEncoder(tokenizer, limit, 16384)
            got = encoder.tokenize(texts(), policy)
            for text, ids in zip(texts(), got, strict=True):
                whole = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
                expected = encoder.wrap(truncate(whole, encoder.limit, policy, "inputs[0]"))
                assert ids == expected, (type(tokenizer).__name__, limit, text[:40])


def test_a_huge_text_is_never_tokenised_whole(minilm_dir: Path) -> None:
    from transformers import AutoTokenizer

    recording = Recording(AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True))
    encoder = TextEncoder(recording, 256, 16384)
    recording.chars = 0
    for policy in (Truncation.END, Truncation.START):
        [ids] = encoder.tokenize([HUGE], policy)
        assert len(ids) == 256
    assert recording.chars < 20 * 256 * CHARS_PER_TOKEN, recording.chars
    with pytest.raises(InvalidArgument, match="more than"):
        encoder.tokenize([HUGE], Truncation.NONE)


def test_offsets_point_into_the_whole_text_from_either_end(minilm_dir: Path) -> None:
    from transformers import AutoTokenizer

    encoder = TextEncoder(
        AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True), 64, 16384
    )
    text = texts()[1]
    for policy in (Truncation.END, Truncation.START):
        [window] = encoder.encode_windows([text], policy, offsets=True)
        assert window.cut
        kept = truncate(window.ids, encoder.limit, policy, "inputs[0]", cut=True)
        at = 0 if policy is Truncation.END else len(window.ids) - len(kept)
        for (start, end), token in zip(
            window.offsets[at : at + len(kept)],
            encoder.tokenizer.convert_ids_to_tokens(kept),
            strict=True,
        ):
            assert text[start:end].lower() == token.removeprefix("##")


def test_texts_over_the_byte_limit_or_blank_are_refused_by_name() -> None:
    limits = TextLimits(max_inputs=8, max_input_bytes=1000)
    validate_texts(["é" * 500, "ok"], "inputs", limits)  # 1,000 bytes: at the limit
    with pytest.raises(InvalidArgument) as info:
        validate_texts(["ok", "é" * 501], "inputs", limits)
    assert info.value.message == "inputs[1]: has 1002 bytes; at most 1000 per input"
    with pytest.raises(InvalidArgument) as info:
        validate_texts(["ok", " \n\t "], "prompts", limits)
    assert info.value.message == "prompts[1]: is only whitespace"
    with pytest.raises(InvalidArgument, match="at most 8 per call"):
        validate_texts(["x"] * 9, "inputs", limits)
