"""Locate what makes a serialized protobuf message unparseable.

protobuf rejects a message whose `string` field holds invalid UTF-8 without saying which
field. Clients deserve to be told, so on a parse failure we walk the wire format with the
message's descriptor and name the first offending field (`inputs[2]`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32 = 0, 1, 2, 5


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]  # IndexError on truncation: handled by the caller
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _spans(data: bytes | memoryview) -> Iterator[tuple[int, int, int]]:
    """(field number, start, end) of each top-level field; start == end == -1 unless it is
    length-delimited. Stops quietly at truncation or at a wire type it does not know."""
    pos = 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire_type = key >> 3, key & 7
            if wire_type == _WIRE_VARINT:
                _, pos = _varint(data, pos)
                yield number, -1, -1
            elif wire_type == _WIRE_I64:
                pos += 8
                yield number, -1, -1
            elif wire_type == _WIRE_I32:
                pos += 4
                yield number, -1, -1
            elif wire_type == _WIRE_LEN:
                length, pos = _varint(data, pos)
                if pos + length > len(data):
                    return
                yield number, pos, pos + length
                pos += length
            else:  # groups or garbage: nothing more to learn
                return
    except IndexError:
        return


def _fields(data: bytes) -> Iterator[tuple[int, bytes | None]]:
    """(field number, payload) of each top-level field; payload only for length-delimited
    fields."""
    for number, start, end in _spans(data):
        yield number, (data[start:end] if start >= 0 else None)


def count_length_delimited(data: bytes, number: int) -> int:
    """How many length-delimited fields `number` a serialized message has at its top level
    (the entries of a repeated string or bytes field), without copying any of them."""
    return sum(1 for found, start, _ in _spans(data) if found == number and start >= 0)


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


def last_length_delimited(data: bytes, number: int) -> bytes | None:
    """The payload of the last length-delimited field `number` at the top level of a
    serialized message, without parsing the rest (the router routes on this)."""
    found = None
    for field_number, chunk in _fields(data):
        if field_number == number and chunk is not None:
            found = chunk
    return found


def first_packed_entry(data: bytes, outer: int, inner: int) -> int | None:
    """The first value of packed repeated varint field `inner` (say `shape`) of the first
    length-delimited field `outer` (say the first tensor of `inputs`) of a serialized
    message, without copying either; None when absent, empty or not packed."""
    view = memoryview(data)
    for number, start, end in _spans(view):
        if number == outer and start >= 0:
            nested = view[start:end]
            for found, first, last in _spans(nested):
                if found == inner and first >= 0 and last > first:
                    try:
                        return _varint(nested, first)[0]
                    except IndexError:
                        return None
            return None
    return None
