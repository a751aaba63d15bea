from __future__ import annotations

from modelport.serving.wire import find_invalid_utf8
from modelport.v1 import common_pb2, embedding_pb2


def _field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_names_the_repeated_string_with_bad_utf8() -> None:
    data = _field(2, b"ok") + _field(2, b"fine") + _field(2, b"\xff\xfe")
    assert find_invalid_utf8(embedding_pb2.EmbedRequest.DESCRIPTOR, data) == "inputs[2]"


def test_names_a_nested_field() -> None:
    ref = common_pb2.ModelRef(version="1").SerializeToString() + _field(1, b"\xc3")
    data = _field(1, ref)
    assert find_invalid_utf8(embedding_pb2.EmbedRequest.DESCRIPTOR, data) == "model.name"


def test_valid_and_truncated_messages_give_none() -> None:
    valid = embedding_pb2.EmbedRequest(inputs=["héllo"]).SerializeToString()
    assert find_invalid_utf8(embedding_pb2.EmbedRequest.DESCRIPTOR, valid) is None
    assert find_invalid_utf8(embedding_pb2.EmbedRequest.DESCRIPTOR, valid[:-2]) is None
