"""Open Inference Protocol tensors: contents and raw forms, and errors naming the tensor."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from modelport.inference.tensors import Output, decode_input, encode_output, serialize_raw_bytes
from modelport.oip.v2 import open_inference_pb2 as pb
from modelport.serving.errors import InvalidArgument

Input = pb.ModelInferRequest.InferInputTensor


def test_bytes_from_contents_and_raw_agree() -> None:
    items = [b"hello", "wörld".encode(), b""]
    typed = Input(
        name="text",
        datatype="BYTES",
        shape=[3],
        contents=pb.InferTensorContents(bytes_contents=items),
    )
    raw = serialize_raw_bytes(items)
    assert raw[:4] == struct.pack("<I", 5)
    assert decode_input(typed, None).data == items
    assert decode_input(Input(name="text", datatype="BYTES", shape=[3]), raw).data == items
    assert decode_input(typed, None).strings() == ["hello", "wörld", ""]


def test_numbers_from_contents_and_raw_agree() -> None:
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    typed = Input(
        name="x",
        datatype="FP32",
        shape=[2, 3],
        contents=pb.InferTensorContents(fp32_contents=values.ravel().tolist()),
    )
    raw = decode_input(Input(name="x", datatype="FP32", shape=[2, 3]), values.tobytes())
    np.testing.assert_array_equal(decode_input(typed, None).data, values)
    np.testing.assert_array_equal(raw.data, values)


def test_fp16_and_bf16_only_raw() -> None:
    half = np.array([1.5, -2.0], np.float16)
    decoded = decode_input(Input(name="h", datatype="FP16", shape=[2]), half.tobytes())
    np.testing.assert_array_equal(decoded.data, half)
    bf16 = (np.array([1.5, -2.0], np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    np.testing.assert_array_equal(
        decode_input(Input(name="b", datatype="BF16", shape=[2]), bf16).data, [1.5, -2.0]
    )
    with pytest.raises(InvalidArgument, match=r"inputs\[h\]: FP16 tensors travel only as raw"):
        decode_input(Input(name="h", datatype="FP16", shape=[2]), None)


@pytest.mark.parametrize(
    ("tensor", "raw", "message"),
    [
        (Input(name="t", datatype="FP33", shape=[1]), None, "unknown datatype"),
        (Input(name="t", datatype="FP32", shape=[-1]), None, "negative dimension"),
        (
            Input(
                name="t",
                datatype="FP32",
                shape=[3],
                contents=pb.InferTensorContents(fp32_contents=[1.0]),
            ),
            None,
            "needs 3",
        ),
        (Input(name="t", datatype="FP32", shape=[3]), b"\x00" * 8, "needs 12"),
        (Input(name="t", datatype="BYTES", shape=[2]), serialize_raw_bytes([b"a"]), "ends inside"),
        (Input(name="t", datatype="BYTES", shape=[1]), b"\x09\x00\x00\x00ab", "runs past"),
        (
            Input(name="t", datatype="BYTES", shape=[1]),
            serialize_raw_bytes([b"a"]) + b"x",
            "left over",
        ),
    ],
)
def test_bad_tensors_name_the_tensor(tensor: Input, raw: bytes | None, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        decode_input(tensor, raw)
    assert info.value.violations[0].field == "inputs[t]"
    assert message in info.value.message


@pytest.mark.parametrize(
    ("tensor", "raw"),
    [
        (Input(name="t", datatype="FP32", shape=[0, 2**63 - 1]), None),
        (Input(name="t", datatype="INT32", shape=[0, 2**63 - 1]), b""),
        (Input(name="t", datatype="BF16", shape=[2**62, 0]), b""),
        (
            Input(
                name="t",
                datatype="INT32",
                shape=[1] * 65,
                contents=pb.InferTensorContents(int_contents=[1]),
            ),
            None,
        ),
    ],
    ids=["zero-size-huge", "raw-zero-size-huge", "bf16-zero-size-huge", "65-dimensions"],
)
def test_shapes_numpy_cannot_hold_name_the_tensor(tensor: Input, raw: bytes | None) -> None:
    """Found by fuzzing: these reached numpy's reshape and came back as INTERNAL."""
    with pytest.raises(InvalidArgument) as info:
        decode_input(tensor, raw)
    assert info.value.violations[0].field == "inputs[t]"
    assert "is not supported" in info.value.message


def test_invalid_utf8_names_the_element() -> None:
    tensor = decode_input(
        Input(
            name="text",
            datatype="BYTES",
            shape=[2],
            contents=pb.InferTensorContents(bytes_contents=[b"ok", b"\xff"]),
        ),
        None,
    )
    with pytest.raises(InvalidArgument, match=r"inputs\[text\]\[1\]"):
        tensor.strings()


def test_outputs_raw_or_typed() -> None:
    out = Output("score", "FP32", (1, 2), np.array([[0.5, 0.25]], np.float32))
    typed = pb.ModelInferResponse.InferOutputTensor()
    assert encode_output(out, typed, raw=False) is None
    assert list(typed.contents.fp32_contents) == [0.5, 0.25]
    assert list(typed.shape) == [1, 2]
    raw = encode_output(out, pb.ModelInferResponse.InferOutputTensor(), raw=True)
    assert raw == np.array([0.5, 0.25], "<f4").tobytes()
    labels = Output("label", "BYTES", (2,), [b"a", b"bc"])
    assert encode_output(labels, pb.ModelInferResponse.InferOutputTensor(), raw=True) == (
        serialize_raw_bytes([b"a", b"bc"])
    )
