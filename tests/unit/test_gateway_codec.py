"""The gateway's pure parts: REST tensors ⇄ raw bytes for every datatype, error statuses
for every gRPC code, field paths of validation errors."""

from __future__ import annotations

import base64
import struct
from typing import Any

import grpc
import pytest

from modelport.gateway.body import field_path, parse_json, validate
from modelport.gateway.errors import HTTP_STATUS, TRITON_STATUS, GatewayError, openai_error_body
from modelport.gateway.oip import codec
from modelport.gateway.openai.protocol import ChatRequest

NUMBERS: dict[str, list[Any]] = {
    "BOOL": [True, False, True, True],
    "UINT8": [0, 1, 255, 7],
    "UINT16": [0, 65535, 3, 4],
    "UINT32": [0, 2**32 - 1, 3, 4],
    "UINT64": [0, 2**64 - 1, 3, 4],
    "INT8": [-128, 127, 0, -1],
    "INT16": [-(2**15), 2**15 - 1, 0, -1],
    "INT32": [-(2**31), 2**31 - 1, 0, -1],
    "INT64": [-(2**63), 2**63 - 1, 0, -1],
    "FP16": [0.5, -2.0, 1024.0, 0.0],
    "FP32": [0.25, -1.5, 3.0, 1e-3],
    "FP64": [0.1, -1e300, 3.0, 2.5],
}


@pytest.mark.parametrize("datatype", sorted(NUMBERS))
def test_numbers_round_trip_through_raw_bytes(datatype: str) -> None:
    values = NUMBERS[datatype]
    tensor = {"datatype": datatype, "shape": [2, 2], "data": [values[:2], values[2:]]}
    raw = codec.json_to_raw(tensor, "inputs[x]")
    assert len(raw) == 4 * struct.calcsize(codec.FORMATS[datatype])
    codec.check_raw(tensor, raw, "inputs[x]")
    decoded, parameters = codec.raw_to_json(datatype, raw, "outputs[x]")
    assert decoded == pytest.approx(values, rel=1e-6)
    assert parameters == {}


def test_bytes_as_text_and_as_base64() -> None:
    text = {"datatype": "BYTES", "shape": [2], "data": ["héllo", ""]}
    raw = codec.json_to_raw(text, "inputs[t]")
    assert raw == struct.pack("<I", 6) + "héllo".encode() + struct.pack("<I", 0)
    assert codec.raw_to_json("BYTES", raw, "o") == (["héllo", ""], {})
    blob = b"\xff\x00\x01"
    encoded = {
        "datatype": "BYTES",
        "shape": [1],
        "data": [base64.b64encode(blob).decode()],
        "parameters": {"content_type": "base64"},
    }
    raw = codec.json_to_raw(encoded, "inputs[b]")
    data, parameters = codec.raw_to_json("BYTES", raw, "o")
    assert base64.b64decode(data[0]) == blob  # not UTF-8: base64 back, and said so
    assert parameters == {"content_type": "base64"}


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        ({"datatype": "FP32", "shape": [3], "data": [1, 2]}, "inputs[x].data: has 2 elements"),
        ({"datatype": "INT8", "shape": [1], "data": [300]}, "inputs[x].data: does not fit INT8"),
        ({"datatype": "BYTES", "shape": [1], "data": [5]}, "inputs[x].data[0]: a BYTES"),
        ({"datatype": "BF16", "shape": [1], "data": [1.0]}, "inputs[x].datatype: BF16 travels"),
        ({"datatype": "FP32", "shape": [1]}, "inputs[x].data: is required"),
    ],
)
def test_bad_json_tensors_name_the_tensor(tensor: dict[str, object], message: str) -> None:
    with pytest.raises(GatewayError) as info:
        codec.json_to_raw(tensor, "inputs[x]")
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.message.startswith(message)


def test_binary_data_of_the_wrong_size_is_refused() -> None:
    tensor = {"datatype": "FP32", "shape": [2]}
    with pytest.raises(GatewayError, match="binary_data_size is 4 bytes; FP32 of shape"):
        codec.check_raw(tensor, b"\x00" * 4, "inputs[x]")
    with pytest.raises(GatewayError, match="runs past the end"):
        codec.unpack_bytes(struct.pack("<I", 9) + b"abc", "inputs[x]")


def test_every_grpc_code_has_an_http_status() -> None:
    for code in grpc.StatusCode:
        assert code in HTTP_STATUS
        assert code in TRITON_STATUS
    assert HTTP_STATUS[grpc.StatusCode.RESOURCE_EXHAUSTED] == 429
    assert HTTP_STATUS[grpc.StatusCode.UNAUTHENTICATED] == 401
    assert TRITON_STATUS[grpc.StatusCode.NOT_FOUND] == 404
    assert TRITON_STATUS[grpc.StatusCode.ALREADY_EXISTS] == 400
    limited = GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", retry_after_s=0.2)
    assert limited.headers() == {"retry-after": "1"}
    loading = GatewayError(grpc.StatusCode.UNAVAILABLE, "loading", retry_after_s=2.5)
    assert loading.headers() == {"retry-after": "3"}
    full = GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full")
    assert full.headers() == {"retry-after": "1"}
    assert GatewayError(grpc.StatusCode.INTERNAL, "x").headers() == {}
    body = openai_error_body(limited)["error"]
    assert body["type"] == "rate_limit_error"
    assert body["code"] == "resource_exhausted"
    too_large = GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "big", http_status=413)
    assert too_large.status() == 413


def test_validation_errors_name_the_field() -> None:
    assert field_path(("messages", 1, "role")) == "messages[1].role"
    with pytest.raises(GatewayError) as info:
        validate(ChatRequest, {"model": "m", "messages": [{"role": "user"}, {"role": "x"}]})
    assert info.value.param == "messages[1].role"
    with pytest.raises(GatewayError) as broken:
        parse_json(b'{"a": ')
    assert broken.value.param == "body"
    assert "line 1 column 7" in broken.value.message
    accepted = validate(ChatRequest, {"model": "m", "messages": [{"role": "user"}], "x": 1})
    assert accepted.model == "m"  # unknown fields are ignored
