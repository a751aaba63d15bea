"""Locate what makes a serialized protobuf message unparseable.

protobuf rejects a message whose `string` field holds invalid UTF-8 without saying which
field. Clients deserve to be told, so on a parse failure we walk the wire format with the
message's descriptor and name the first offending field (`inputs[2]`).

The router reads the same wire format to route and to count inputs without parsing whole
requests; it reads a field as protobuf would (every occurrence, groups stepped over), so
what it routes on is what the replica parses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_START_GROUP, _WIRE_END_GROUP, _WIRE_I32 = range(6)


class Malformed(ValueError):
    """The bytes are not a protobuf message protobuf would parse."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]  # IndexError on truncation: handled by the caller
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _walk(data: bytes, pos: int, group: int | None) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each field from `pos`: its value's bytes
    (a varint's, a fixed number's, a length-delimited payload's; a group's are skipped and
    empty). Groups (unknown fields to proto3, which protobuf skips) are stepped over
    whole. Inside a group (`group` is its number) it stops at the group's end. Malformed
    (or IndexError) for anything protobuf would refuse."""
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        start = pos
        if number == 0:
            raise Malformed("field number 0")
        if wire_type == _WIRE_VARINT:
            _, pos = _varint(data, pos)
        elif wire_type == _WIRE_I64:
            pos += 8
        elif wire_type == _WIRE_I32:
            pos += 4
        elif wire_type == _WIRE_LEN:
            length, start = _varint(data, pos)
            pos = start + length
        elif wire_type == _WIRE_START_GROUP:
            inside = list(_walk(data, pos, number))
            pos = start = _group_end(data, inside[-1][3] if inside else pos, number)
        elif wire_type == _WIRE_END_GROUP and number == group:
            return
        else:
            raise Malformed(f"wire type {wire_type}")
        if pos > len(data):
            raise Malformed("truncated")
        yield number, wire_type, start, pos
    if group is not None:
        raise Malformed("unterminated group")


def _group_end(data: bytes, pos: int, number: int) -> int:
    """The position after the end-group tag of group `number` that starts at `pos`."""
    key, after = _varint(data, pos)
    if key != (number << 3 | _WIRE_END_GROUP):
        raise Malformed("unterminated group")
    return after


def _spans(data: bytes, strict: bool = False) -> Iterator[tuple[int, int, int]]:
    """(field number, start, end) of each top-level field; start == end == -1 unless it is
    length-delimited. At a malformed part it stops quietly, or raises Malformed when
    `strict`."""
    try:
        for number, wire_type, start, end in _walk(data, 0, None):
            if wire_type == _WIRE_LEN:
                yield number, start, end
            else:
                yield number, -1, -1
    except (Malformed, IndexError) as exc:
        if strict:
            raise Malformed(str(exc) or "truncated") from exc


def varints(data: bytes, number: int) -> list[int]:
    """The values of a repeated integer field `number` (packed or not) at the top level of
    a serialized message; quietly fewer at a malformed part."""
    values: list[int] = []
    try:
        for found, wire_type, start, end in _walk(data, 0, None):
            if found != number:
                continue
            if wire_type == _WIRE_VARINT:
                values.append(_varint(data, start)[0])
            elif wire_type == _WIRE_LEN:
                pos = start
                while pos < end:
                    value, pos = _varint(data, pos)
                    values.append(value)
    except (Malformed, IndexError):
        pass
    return values


def _fields(data: bytes) -> Iterator[tuple[int, bytes | None]]:
    """(field number, payload) of each top-level field; payload only for length-delimited
    fields."""
    for number, start, end in _spans(data):
        yield number, (data[start:end] if start >= 0 else None)


def count_length_delimited(data: bytes, number: int) -> int:
    """How many length-delimited fields `number` a serialized message has at its top level
    (the entries of a repeated string or bytes field), without copying any of them."""
    count = 0
    try:
        for found, wire_type, _, _ in _walk(data, 0, None):
            if found == number and wire_type == _WIRE_LEN:
                count += 1
    except (Malformed, IndexError):
        pass  # quietly fewer: the replica refuses such a message anyway
    return count


def find_invalid_utf8(descriptor: Descriptor, data: bytes, prefix: str = "") -> str | None:
    """Return the path of the first string field that is not valid UTF-8, or None."""
    seen: defaultdict[int, int] = defaultdict(int)
    for number, chunk in _fields(data):
        field = descriptor.fields_by_number.get(number)
        if chunk is None or field is None:
            continue
        path = prefix + field.name
        if field.is_repeated:
            path += f"[{seen[number]}]"
            seen[number] += 1
        if field.type == FieldDescriptor.TYPE_STRING:
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError:
                return path
        elif field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type:
            found = find_invalid_utf8(field.message_type, chunk, path + ".")
            if found:
                return found
    return None


def length_delimited(data: bytes, number: int) -> list[bytes]:
    """The payloads of every length-delimited field `number` at the top level of a
    serialized message, in order, without parsing the rest (the router routes on these:
    protobuf takes the last for a string, and merges them all for a message). Malformed
    when protobuf would not parse the message, so the router never routes on bytes a
    replica reads differently."""
    return [data[start:end] for found, start, end in _spans(data, strict=True) if found == number]


def encode_varint(n: int) -> bytes:
    """`n` (not negative) as a protobuf base-128 varint."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def length_delimited_field(number: int, payload: bytes) -> bytes:
    """Field `number` holding `payload` (a string, bytes or a message), encoded. Appended
    to a message it overrides a string field and merges into a message field, as
    protobuf reads repeated occurrences: no need to decode and re-encode the message."""
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload
