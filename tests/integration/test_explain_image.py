"""VisionService/Explain on a real vision server with the suite's EfficientNet-Lite0 and a
real photo (scikit-image's bundled cat, Chelsea): the saliency mass sits on the cat, the
map has the image's resolution and is zero where the model's crop left the image out,
and bad requests name their field."""

from __future__ import annotations

import io
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from modelport.v1 import common_pb2, vision_pb2, vision_pb2_grpc
from modelport.vision.__main__ import build, default_models
from modelport.vision.settings import VisionSettings
from tests.helpers import rpc_error, running_server

pytestmark = pytest.mark.slow

MODEL = common_pb2.ModelRef(name="efficientnet-lite0")
IG = common_pb2.EXPLAIN_METHOD_INTEGRATED_GRADIENTS
OCCLUSION = common_pb2.EXPLAIN_METHOD_OCCLUSION
WIDTH, HEIGHT = 448, 400
"""Not square: a map with rows and columns swapped would not fit."""


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def cat_on_the_left() -> bytes:
    """The cat photo in the left half of a plain grey canvas: the object is where the
    photo is, and nothing else in the image looks like anything."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (128, 128, 128))
    cat = Image.fromarray(photos.chelsea())  # type: ignore[no-untyped-call]
    canvas.paste(cat.resize((WIDTH // 2, WIDTH // 2 * cat.height // cat.width)), (0, 120))
    return png(canvas)


@pytest.fixture(scope="module")
def stub() -> Iterator[vision_pb2_grpc.VisionServiceStub]:
    settings = VisionSettings(host="127.0.0.1", port=0, metrics_port=-1)
    with (
        running_server(build, settings, default_models()[:1]) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        yield vision_pb2_grpc.VisionServiceStub(channel)


def saliency(response: vision_pb2.ExplainImageResponse) -> np.ndarray:
    s = response.saliency
    return np.frombuffer(s.data, "<f4").reshape(s.height, s.width)


@pytest.mark.parametrize("method", [IG, OCCLUSION])
def test_the_saliency_mass_sits_on_the_cat(
    stub: vision_pb2_grpc.VisionServiceStub, method: common_pb2.ExplainMethod.ValueType
) -> None:
    image = cat_on_the_left()
    classified = stub.ClassifyImage(
        vision_pb2.ClassifyImageRequest(model=MODEL, images=[image]), timeout=60
    )
    best = classified.results[0].labels[0]
    assert "cat" in best.label or best.label in {"Egyptian Mau", "lynx"}
    response = stub.Explain(
        vision_pb2.ExplainImageRequest(model=MODEL, image=image, method=method, heatmap=True),
        timeout=600,
    )
    assert response.target_label == best.label
    assert response.target_score == pytest.approx(best.score, abs=1e-4)
    values = saliency(response)
    assert values.shape == (HEIGHT, WIDTH)
    positive = np.clip(values, 0, None)
    left, right = positive[:, : WIDTH // 2].sum(), positive[:, WIDTH // 2 :].sum()
    assert left > 3 * right
    heatmap = Image.open(io.BytesIO(response.heatmap_png))
    assert heatmap.format == "PNG"
    assert heatmap.size == (WIDTH, HEIGHT)
    if method == IG:
        assert response.HasField("convergence_delta")
        assert response.steps == 50
        assert response.forward_passes == 52
    else:
        assert not response.HasField("convergence_delta")
        assert (response.window, response.stride) == (32, 16)


def test_the_map_is_zero_where_the_crop_left_the_image_out(
    stub: vision_pb2_grpc.VisionServiceStub,
) -> None:
    """A wide image: the model reads its centre (shorter side to 256, centre crop 224),
    so the map's outer columns are exactly 0 and its centre is not."""
    wide = Image.fromarray(photos.chelsea()).resize((900, 300))  # type: ignore[no-untyped-call]
    response = stub.Explain(
        vision_pb2.ExplainImageRequest(
            model=MODEL, image=png(wide), method=OCCLUSION, window=112, stride=112
        ),
        timeout=300,
    )
    assert response.forward_passes == 5
    values = saliency(response)
    assert values.shape == (300, 900)
    assert not values[:, :150].any()
    assert not values[:, -150:].any()
    assert values[:, 300:600].any()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"image": b""}, "image"),
        ({"image": b"not an image"}, "image"),
        ({"method": OCCLUSION, "window": 300}, "window"),
        ({"method": OCCLUSION, "window": 8, "stride": 9}, "stride"),
        ({"method": OCCLUSION, "window": 1, "stride": 1}, "stride"),
        ({"baseline": common_pb2.BASELINE_PAD}, "baseline"),
        ({"steps": 100_000}, "steps"),
        ({"target_label": "not a class"}, "target_label"),
    ],
)
def test_bad_requests_name_the_field(
    stub: vision_pb2_grpc.VisionServiceStub, fields: dict[str, object], field: str
) -> None:
    request = vision_pb2.ExplainImageRequest(
        model=MODEL,
        **{"image": cat_on_the_left(), "steps": 1, **fields},  # type: ignore[arg-type]
    )
    error = rpc_error(lambda: stub.Explain(request, timeout=120))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith(f"{field}: ")
