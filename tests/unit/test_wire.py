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


def _group(number: int, inside: bytes = b"") -> bytes:
    """An unknown group field (proto2 wire types 3 and 4), which proto3 parsers skip
    (field numbers below 2048: two-byte tags)."""

    def tag(wire_type: int) -> bytes:
        key = number << 3 | wire_type
        return bytes([key & 0x7F | 0x80, key >> 7]) if key >= 0x80 else bytes([key])

    return tag(3) + inside + tag(4)


def test_fields_are_read_as_protobuf_reads_them() -> None:
    """The router routes and charges on these: every occurrence, groups (nested too)
    stepped over, so what it reads is what protobuf parses."""
    import pytest

    from modelport.serving.wire import Malformed, count_length_delimited, length_delimited

    first = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="a"), inputs=["x", "y"])
    second = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name="b"), inputs=["z"])
    data = (
        first.SerializeToString() + _group(99, b"\x08\x01" + _group(7)) + second.SerializeToString()
    )
    parsed = embedding_pb2.EmbedRequest.FromString(data)
    merged = common_pb2.ModelRef.FromString(b"".join(length_delimited(data, 1)))
    assert merged == parsed.model
    assert merged.name == "b"
    assert count_length_delimited(data, 2) == len(parsed.inputs) == 3
    for bad in (
        data[:-1],  # truncated
        first.SerializeToString() + _group(99)[:-1],  # a group never ended
        first.SerializeToString() + b"\x0c",  # an end of group with no start
        first.SerializeToString() + b"\x0e",  # wire type 6
        b"\x00\x01",  # field number 0
    ):
        with pytest.raises(Exception):  # noqa: B017, PT011 - protobuf refuses each
            embedding_pb2.EmbedRequest.FromString(bad)
        with pytest.raises(Malformed):
            length_delimited(bad, 1)
