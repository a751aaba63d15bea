from __future__ import annotations

import pytest

from modelport.inference.text import Truncation
from modelport.ml.text import length_groups, truncate
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


def test_length_groups_cover_every_index_once_within_budget() -> None:
    lengths = [3, 100, 4, 90, 5, 2, 95]
    groups = length_groups(lengths, max_padded_tokens=200)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for group in groups:
        assert len(group) == 1 or max(lengths[i] for i in group) * len(group) <= 200
    # short texts are not padded to the long ones
    assert any(set(g) == {0, 2, 4, 5} for g in groups)
