"""`choose`: the next token under extreme but valid decoding parameters. A NaN there
would fail the whole decoding step, every sequence batched with the offending one."""

from __future__ import annotations

import asyncio

import pytest
import torch

from modelport.inference.decoding import GenerationParams, GenSequence
from modelport.nlp.generate import choose

LOGITS = torch.tensor([1.0, 3.0, -2.0, 2.5, 0.0])


def sequence(**params: object) -> GenSequence:
    return GenSequence(
        prompt=[0, 2],
        params=GenerationParams(max_new_tokens=4, do_sample=True, seed=7, **params),  # type: ignore[arg-type]
        queue=asyncio.Queue(),
    )


@pytest.mark.parametrize(
    "params",
    [
        {"temperature": 1e-30},
        {"temperature": 1e-40},  # below float32's normal range: the logits overflow
        {"temperature": 5e-324},  # the smallest positive double
        {"temperature": 1e-30, "top_k": 2},
        {"temperature": 1e-30, "top_p": 0.5},
        {"repetition_penalty": 1e-30},
        {"repetition_penalty": 1e-40, "temperature": 1e-40},
        {"repetition_penalty": 1e30},
        {"repetition_penalty": 5e-324, "temperature": 5e-324},
        {"temperature": 1e30},
    ],
)
def test_extreme_parameters_still_choose_a_token(params: dict[str, float]) -> None:
    token = choose(LOGITS.clone(), sequence(**params))
    assert 0 <= token < len(LOGITS)


def test_a_tiny_temperature_is_greedy() -> None:
    assert {choose(LOGITS.clone(), sequence(temperature=1e-30)) for _ in range(5)} == {1}
