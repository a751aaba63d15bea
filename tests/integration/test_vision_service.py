"""The vision service on loopback: the real EfficientNet-Lite0 on real photos, the
transformers paths with tiny random models, and every kind of bad upload."""

from __future__ import annotations

import concurrent.futures
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from PIL import Image
from skimage import data as photos
from sklearn.datasets import load_sample_images

from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec
from modelport.oip.v2 import open_inference_pb2, open_inference_pb2_grpc
from modelport.v1 import common_pb2, registry_pb2, registry_pb2_grpc, vision_pb2, vision_pb2_grpc
from modelport.vision.__main__ import build, default_models
from modelport.vision.settings import (
    TorchImageClassificationOptions,
    TorchImageClassificationSpec,
    VisionSettings,
)
from tests.helpers import rpc_error, running_server

MAX_BYTES = 4 * 1024 * 1024


def encode(image: Image.Image | np.ndarray, fmt: str = "JPEG", **params: Any) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


CAT = photos.chelsea()  # type: ignore[no-untyped-call]
COFFEE = photos.coffee()  # type: ignore[no-untyped-call]
FLOWER = load_sample_images().images[1]


@pytest.fixture(scope="module")
def server(
    tiny_vit_dir: Path, tiny_detector_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InferenceServer]:
    efficientnet = default_models()[0]
    models = [
        efficientnet,
        efficientnet.model_copy(update={"name": "efficientnet-torch", "engine": "torch"}),
        ModelSpec(name="vit", runtime="hf-image-classification", path=tiny_vit_dir),
        ModelSpec(
            name="vit-torch", runtime="hf-image-classification", path=tiny_vit_dir, engine="torch"
        ),
        ModelSpec(name="detector", runtime="hf-object-detection", path=tiny_detector_dir),
        TorchImageClassificationSpec(
            name="bad-factory",
            options=TorchImageClassificationOptions(factory="modelport_absent.zoo:build"),
        ),
    ]
    settings = VisionSettings(
        host="127.0.0.1",
        port=0,
        metrics_port=-1,
        max_image_bytes=MAX_BYTES,
        max_image_pixels=30_000_000,
        cache_dir=tmp_path_factory.mktemp("cache"),  # exports go to a cache of this module's
    )
    with running_server(build, settings, models) as srv:
        yield srv


@pytest.fixture(scope="module")
def stub(server: InferenceServer) -> Iterator[vision_pb2_grpc.VisionServiceStub]:
    with grpc.insecure_channel(
        f"127.0.0.1:{server.port}", options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        yield vision_pb2_grpc.VisionServiceStub(channel)


def classify(
    stub: vision_pb2_grpc.VisionServiceStub,
    images: list[bytes],
    model: str = "efficientnet-lite0",
    top_k: int = 0,
) -> list[list[str]]:
    response = stub.ClassifyImage(
        vision_pb2.ClassifyImageRequest(
            model=common_pb2.ModelRef(name=model), images=images, top_k=top_k
        ),
        timeout=60,
    )
    return [[label.label for label in r.labels] for r in response.results]


def test_efficientnet_names_real_photos(stub: vision_pb2_grpc.VisionServiceStub) -> None:
    cat, coffee, flower = classify(stub, [encode(CAT), encode(COFFEE), encode(FLOWER)], top_k=3)
    assert any("cat" in label or "tabby" in label for label in cat), cat
    assert coffee[0] == "espresso", coffee
    assert "daisy" in flower, flower


def test_classifiers_run_on_onnx_runtime_and_score_as_torch_does(
    server: InferenceServer, stub: vision_pb2_grpc.VisionServiceStub
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        listed = registry.ListModels(registry_pb2.ListModelsRequest(), timeout=5).models
    engines = {m.name: m.versions[0].metadata.get("engine") for m in listed}
    assert engines["efficientnet-lite0"] == engines["vit"] == "onnxruntime"
    assert engines["efficientnet-torch"] == engines["vit-torch"] == "torch"
    images = [encode(CAT), encode(COFFEE), encode(FLOWER)]
    for onnx, eager in (("efficientnet-lite0", "efficientnet-torch"), ("vit", "vit-torch")):
        results = []
        for model in (onnx, eager):
            request = vision_pb2.ClassifyImageRequest(
                model=common_pb2.ModelRef(name=model), images=images, top_k=5
            )
            response = stub.ClassifyImage(request, timeout=60)
            results.append([[(x.label, x.score) for x in r.labels] for r in response.results])
        for got, want in zip(*results, strict=True):
            assert [label for label, _ in got] == [label for label, _ in want]
            assert [score for _, score in got] == pytest.approx(
                [score for _, score in want], abs=1e-5
            )


def test_default_top_k_and_sorted_scores(stub: vision_pb2_grpc.VisionServiceStub) -> None:
    response = stub.ClassifyImage(
        vision_pb2.ClassifyImageRequest(
            model=common_pb2.ModelRef(name="efficientnet-lite0"), images=[encode(COFFEE)]
        ),
        timeout=60,
    )
    scores = [label.score for label in response.results[0].labels]
    assert len(scores) == 5
    assert scores == sorted(scores, reverse=True)
    assert response.model.version == "1"


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("PNG", {}),
        ("WEBP", {"quality": 90}),
        ("BMP", {}),
        ("GIF", {}),
    ],
)
def test_every_format_gives_the_same_answer(
    stub: vision_pb2_grpc.VisionServiceStub, fmt: str, params: dict[str, Any]
) -> None:
    assert classify(stub, [encode(COFFEE, fmt, **params)])[0][0] == "espresso"


def test_animated_gif_uses_the_first_frame(stub: vision_pb2_grpc.VisionServiceStub) -> None:
    frames = [Image.fromarray(COFFEE), Image.fromarray(CAT)]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert classify(stub, [gif])[0][0] == "espresso"


def test_exif_orientation_is_applied(stub: vision_pb2_grpc.VisionServiceStub) -> None:
    stored = Image.fromarray(COFFEE).transpose(Image.Transpose.ROTATE_90)  # lies on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    upright = classify(stub, [encode(COFFEE)])[0][0]
    assert classify(stub, [encode(stored, exif=exif)])[0][0] == upright


def test_grayscale_rgba_and_palette_images_are_converted(
    stub: vision_pb2_grpc.VisionServiceStub,
) -> None:
    base = Image.fromarray(COFFEE)
    images = [
        encode(base.convert("L"), "PNG"),
        encode(base.convert("RGBA"), "PNG"),
        encode(base.convert("P"), "PNG"),
        encode(base.convert("LA"), "PNG"),
    ]
    results = classify(stub, images)
    assert len(results) == 4
    assert results[1][0] == "espresso"


def bomb() -> bytes:
    """A tiny PNG whose header claims 20000 x 20000 pixels."""
    return encode(Image.new("1", (20000, 20000)), "PNG")


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: b"", "is empty"),
        (lambda: b"definitely not an image", "is not a supported image"),
        (lambda: encode(COFFEE)[:2000], "truncated or corrupt"),
        (lambda: encode(COFFEE, "PNG")[:5000], "truncated or corrupt"),
        (bomb, "pixels"),
        (lambda: b"\xff\xd8" + bytes(MAX_BYTES), f"at most {MAX_BYTES}"),
        (lambda: encode(Image.new("RGB", (8, 8)), "TIFF"), "is not a supported image"),
    ],
)
def test_bad_images_name_their_index_and_spare_other_calls(
    stub: vision_pb2_grpc.VisionServiceStub, make: Callable[[], bytes], needle: str
) -> None:
    good = encode(COFFEE)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        others = [pool.submit(classify, stub, [good]) for _ in range(3)]
        err = rpc_error(lambda: classify(stub, [good, make()]))
        assert all(f.result()[0][0] == "espresso" for f in others)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = err.details() or ""
    assert details.startswith("images[1]:"), details
    assert needle in details, details


def test_request_level_errors(stub: vision_pb2_grpc.VisionServiceStub) -> None:
    err = rpc_error(lambda: classify(stub, []))
    assert (err.details() or "").startswith("images:")
    err = rpc_error(lambda: classify(stub, [encode(COFFEE)], model="detector"))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (err.details() or "").startswith(
        "model 'detector' is an object-detection model: call "
        "modelport.v1.VisionService/DetectObjects"
    )
    err = rpc_error(lambda: classify(stub, [encode(COFFEE)], model="nope"))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_transformers_image_classifier(stub: vision_pb2_grpc.VisionServiceStub) -> None:
    response = stub.ClassifyImage(
        vision_pb2.ClassifyImageRequest(
            model=common_pb2.ModelRef(name="vit"), images=[encode(CAT), encode(FLOWER)], top_k=3
        ),
        timeout=60,
    )
    for result in response.results:
        assert {label.label for label in result.labels} == {"cat", "coffee", "flower"}
        assert abs(sum(label.score for label in result.labels) - 1.0) < 1e-5


def test_object_detection_boxes_are_in_original_pixels(
    stub: vision_pb2_grpc.VisionServiceStub,
) -> None:
    images = [encode(CAT), encode(Image.fromarray(COFFEE).resize((900, 300)))]
    response = stub.DetectObjects(
        vision_pb2.DetectObjectsRequest(
            model=common_pb2.ModelRef(name="detector"),
            images=images,
            threshold=0.01,
            max_detections=4,
        ),
        timeout=60,
    )
    sizes = [(CAT.shape[1], CAT.shape[0]), (900, 300)]
    assert len(response.results) == 2
    for (width, height), result in zip(sizes, response.results, strict=True):
        assert 0 < len(result.detections) <= 4
        scores = [d.score for d in result.detections]
        assert scores == sorted(scores, reverse=True)
        for d in result.detections:
            assert d.label in {"cat", "cup", "flower"}
            assert d.score >= 0.01
            assert -1 <= d.box.x_min <= d.box.x_max <= width + 1
            assert -1 <= d.box.y_min <= d.box.y_max <= height + 1
    strict = stub.DetectObjects(
        vision_pb2.DetectObjectsRequest(
            model=common_pb2.ModelRef(name="detector"), images=images, threshold=0.99
        ),
        timeout=60,
    )
    assert all(d.score >= 0.99 for r in strict.results for d in r.detections)
    err = rpc_error(
        lambda: stub.DetectObjects(
            vision_pb2.DetectObjectsRequest(
                model=common_pb2.ModelRef(name="detector"), images=images, threshold=1.5
            ),
            timeout=10,
        )
    )
    assert (err.details() or "").startswith("threshold:")


def test_a_factory_that_does_not_import_fails_that_model_naming_the_option(
    server: InferenceServer,
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        info = registry.GetModel(registry_pb2.GetModelRequest(name="bad-factory"), timeout=10)
        (version,) = info.versions
        (replica,) = version.replicas
        assert version.state == common_pb2.MODEL_STATE_FAILED
        assert "options.factory" in replica.reason, replica.reason
        assert "modelport_absent" in replica.reason, replica.reason
        oip = open_inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        refused = rpc_error(
            lambda: oip.RepositoryModelLoad(
                open_inference_pb2.RepositoryModelLoadRequest(model_name="bad-factory"),
                timeout=60,
            )
        )
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "options.factory" in (refused.details() or ""), refused.details()
