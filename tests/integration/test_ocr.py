"""OCR through a real vision server and through a real router: RapidOCR's PP-OCR models
(from the rapidocr package) read text this test renders with Pillow's bundled TrueType
font (`ImageFont.load_default(size=...)` is Aileron Regular, a FreeType font shipped
inside Pillow): exact words, reading order, boxes where the text was drawn, and bad
images refused with INVALID_ARGUMENT naming the image."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from PIL import Image, ImageDraw, ImageFont

from modelport.inference.server import InferenceServer
from modelport.oip.v2 import open_inference_pb2, open_inference_pb2_grpc
from modelport.v1 import common_pb2, registry_pb2, registry_pb2_grpc, vision_pb2, vision_pb2_grpc
from modelport.vision.__main__ import build
from modelport.vision.settings import RapidOcrSpec, VisionSettings
from tests.cluster import router_process, stop_all, wait_replicas
from tests.helpers import rpc_error, running_server

WIDTH, HEIGHT = 760, 330
LINES = [
    # (text, x, y): two columns share the last row.
    ("Modelport reads every line", 24, 24),
    ("Invoice number 48213", 24, 104),
    ("Total due", 24, 184),
    ("Paid", 520, 184),
    ("Thank you", 24, 264),
]
READING_ORDER = [t for t, _, _ in LINES]
TEXT = "Modelport reads every line\nInvoice number 48213\nTotal due Paid\nThank you"


def font() -> ImageFont.FreeTypeFont:
    loaded = ImageFont.load_default(size=40)
    assert isinstance(loaded, ImageFont.FreeTypeFont)  # a real TrueType font, not a bitmap
    return loaded


def drawn(
    lines: list[tuple[str, int, int]] = LINES, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> tuple[Image.Image, dict[str, tuple[float, float, float, float]]]:
    """The rendered page and where each line's ink is."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    where = {}
    for text, x, y in lines:
        draw.text((x, y), text, fill="black", font=font())
        where[text] = tuple(float(v) for v in draw.textbbox((x, y), text, font=font()))
    return image, where  # type: ignore[return-value]


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


PAGE, INK = drawn()
NOTE, NOTE_INK = drawn([("Order 7731 shipped", 30, 30), ("Second page", 30, 110)], (480, 180))


@pytest.fixture(scope="module")
def server() -> Iterator[InferenceServer]:
    settings = VisionSettings(host="127.0.0.1", port=0, metrics_port=-1)
    with running_server(build, settings, [RapidOcrSpec(name="ocr")]) as srv:
        yield srv


@pytest.fixture(scope="module")
def channel(server: InferenceServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel


def read(channel: grpc.Channel, images: list[bytes], **fields: float) -> list[vision_pb2.ImageText]:
    response = vision_pb2_grpc.VisionServiceStub(channel).ReadText(
        vision_pb2.ReadTextRequest(model=common_pb2.ModelRef(name="ocr"), images=images, **fields),
        timeout=120,
    )
    assert response.model.name == "ocr"
    assert response.model.version == "1"
    return list(response.results)


def check_page(
    result: vision_pb2.ImageText,
    order: list[str] = READING_ORDER,
    text: str = TEXT,
    ink: dict[str, tuple[float, float, float, float]] = INK,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> None:
    """Exact words in reading order; each box inside the image and around its line's ink."""
    assert [line.text for line in result.lines] == order
    assert result.text == text
    for line in result.lines:
        box = line.box
        assert 0 <= box.x_min < box.x_max <= size[0]
        assert 0 <= box.y_min < box.y_max <= size[1]
        assert 0.9 <= line.confidence <= 1.0, line
        x0, y0, x1, y1 = ink[line.text]
        middle = ((box.x_min + box.x_max) / 2, (box.y_min + box.y_max) / 2)
        assert x0 <= middle[0] <= x1, (line.text, box, (x0, y0, x1, y1))
        assert y0 <= middle[1] <= y1, (line.text, box, (x0, y0, x1, y1))


def test_reads_rendered_lines_exactly_in_reading_order(channel: grpc.Channel) -> None:
    [result] = read(channel, [png(PAGE)])
    check_page(result)


def check_note(result: vision_pb2.ImageText) -> None:
    order = ["Order 7731 shipped", "Second page"]
    check_page(result, order, "\n".join(order), NOTE_INK, NOTE.size)


def test_a_batch_reads_each_image_in_request_order(channel: grpc.Channel) -> None:
    """A JPEG of the page, another page, a blank image, in one call: results in request
    order (their lines recognised together), nothing invented on the blank one."""
    blank = Image.new("RGB", (320, 200), "white")
    page, note, empty = read(channel, [png(PAGE, "JPEG"), png(NOTE), png(blank)])
    check_page(page)
    check_note(note)
    assert list(empty.lines) == []
    assert empty.text == ""


def test_min_confidence_drops_lines(channel: grpc.Channel) -> None:
    [every] = read(channel, [png(PAGE)], min_confidence=0.01)
    assert [line.text for line in every.lines] == READING_ORDER
    [none] = read(channel, [png(PAGE)], min_confidence=1.0)
    assert [line.confidence for line in none.lines] == [1.0] * len(none.lines)


def test_detect_objects_gives_text_lines_best_first(channel: grpc.Channel) -> None:
    stub = vision_pb2_grpc.VisionServiceStub(channel)
    request = vision_pb2.DetectObjectsRequest(
        model=common_pb2.ModelRef(name="ocr"), images=[png(PAGE)]
    )
    [found] = stub.DetectObjects(request, timeout=120).results
    assert {d.label for d in found.detections} == {"text"}
    assert sorted(d.text for d in found.detections) == sorted(READING_ORDER)
    scores = [d.score for d in found.detections]
    assert scores == sorted(scores, reverse=True)
    for d in found.detections:
        x0, _, x1, _ = INK[d.text]
        assert d.box.x_min <= x0 + 4, d
        assert d.box.x_max >= x1 - 4, d
    request.max_detections = 2
    [top] = stub.DetectObjects(request, timeout=120).results
    assert [d.text for d in top.detections] == [d.text for d in found.detections][:2]


def test_listed_as_an_ocr_model_on_onnx_runtime_cpu(channel: grpc.Channel) -> None:
    listed = registry_pb2_grpc.RegistryServiceStub(channel).ListModels(
        registry_pb2.ListModelsRequest(), timeout=5
    )
    [model] = [m for m in listed.models if m.name == "ocr"]
    [version] = model.versions
    assert version.task == common_pb2.TASK_OCR
    assert version.state == common_pb2.MODEL_STATE_READY
    assert version.metadata["providers"] == "CPUExecutionProvider"
    assert version.metadata["rec_model"] == "PP-OCRv6_rec_small.onnx"


def test_open_inference_protocol_reads_text(channel: grpc.Channel) -> None:
    tensor = open_inference_pb2.ModelInferRequest.InferInputTensor(
        name="image", datatype="BYTES", shape=[1]
    )
    tensor.contents.bytes_contents.append(png(PAGE))
    response = open_inference_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
        open_inference_pb2.ModelInferRequest(model_name="ocr", inputs=[tensor]), timeout=120
    )
    outputs = {o.name: o for o in response.outputs}
    assert outputs["text"].contents.bytes_contents[0].decode() == TEXT
    lines = json.loads(outputs["lines"].contents.bytes_contents[0])
    assert [line["text"] for line in lines] == READING_ORDER


@pytest.mark.parametrize(
    ("images", "field"),
    [
        ([b""], "images[0]"),
        ([png(PAGE), b"not an image"], "images[1]"),
        ([png(PAGE)[:200]], "images[0]"),
        ([], "images"),
    ],
    ids=["empty", "not-an-image", "truncated", "none"],
)
def test_bad_images_are_invalid_argument_naming_the_image(
    channel: grpc.Channel, images: list[bytes], field: str
) -> None:
    stub = vision_pb2_grpc.VisionServiceStub(channel)
    model = common_pb2.ModelRef(name="ocr")
    for call in (
        lambda: stub.ReadText(vision_pb2.ReadTextRequest(model=model, images=images), timeout=60),
        lambda: stub.DetectObjects(
            vision_pb2.DetectObjectsRequest(model=model, images=images), timeout=60
        ),
    ):
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (error.details() or ""), error.details()


def test_min_confidence_out_of_range_is_invalid_argument(channel: grpc.Channel) -> None:
    error = rpc_error(lambda: read(channel, [png(PAGE)], min_confidence=1.5))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "min_confidence" in (error.details() or "")


def test_classify_image_on_the_ocr_model_names_the_rpcs_that_serve_it(
    channel: grpc.Channel,
) -> None:
    stub = vision_pb2_grpc.VisionServiceStub(channel)
    error = rpc_error(
        lambda: stub.ClassifyImage(
            vision_pb2.ClassifyImageRequest(
                model=common_pb2.ModelRef(name="ocr"), images=[png(PAGE)]
            ),
            timeout=60,
        )
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ReadText" in (error.details() or ""), error.details()


@pytest.mark.slow
def test_read_text_through_the_router(free_env: dict[str, str], tmp_path: Path) -> None:
    router = router_process(free_env, tmp_path / "data").start().wait_serving()
    try:
        settings = VisionSettings(
            host="127.0.0.1", port=0, metrics_port=-1, router_address=router.address
        )
        with running_server(build, settings, [RapidOcrSpec(name="ocr")]):
            wait_replicas(router, 1, name="ocr")
            with grpc.insecure_channel(router.address) as channel:
                page, note = read(channel, [png(PAGE), png(NOTE)])
                check_page(page)
                check_note(note)
                error = rpc_error(lambda: read(channel, [png(PAGE), b"GIF89a broken"]))
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "images[1]" in (error.details() or "")
    finally:
        stop_all(router)


def modelport(server: InferenceServer, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport.cli", *argv, "--target", f"127.0.0.1:{server.port}"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_reads_text_and_detects_lines(
    server: InferenceServer, tmp_path: Path
) -> None:
    page = tmp_path / "page.png"
    page.write_bytes(png(PAGE))
    read_text = modelport(server, "read-text", str(page))
    assert read_text.returncode == 0, read_text.stderr
    assert read_text.stdout == TEXT + "\n"
    as_json = json.loads(modelport(server, "read-text", str(page), "--json").stdout)
    assert [line["text"] for line in as_json["results"][0]["lines"]] == READING_ORDER
    detect = modelport(server, "detect", str(page), "--max-detections", "1")
    assert detect.returncode == 0, detect.stderr
    header, found = detect.stdout.splitlines()
    assert header == f"{page}: 1 found"
    assert re.fullmatch(r"  text (0\.9\d\d|1\.000) \[\d+, \d+, \d+, \d+\]  '[^']+'", found), found
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    refused = modelport(server, "read-text", str(broken))
    assert refused.returncode == 1
    assert "INVALID_ARGUMENT" in refused.stderr, refused.stderr


def test_loading_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """RapidOCR downloads a model file or a character list it is not given; the runtime
    gives it every file, so a download attempt fails this test."""
    from rapidocr.utils.download_file import DownloadFile

    from modelport.vision.ocr import RapidOcrModel, joined

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"RapidOCR tried to download: {args} {kwargs}")

    monkeypatch.setattr(DownloadFile, "run", refuse)
    model = RapidOcrModel(RapidOcrSpec(name="ocr"), Path("/nonexistent"))
    model.load_weights()
    [lines] = model.predict_batch([model.prepare(NOTE, 0.5)])
    assert isinstance(lines, list)
    assert joined(lines) == "Order 7731 shipped\nSecond page"
