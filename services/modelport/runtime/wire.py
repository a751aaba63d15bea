"""Locate what makes a serialized protobuf message unparseable.

protobuf rejects a message whose `string` field holds invalid UTF-8 without saying which
field. Clients deserve to be told, so on a parse failure we walk the wire format with the
message's descriptor and name the first offending field (`inputs[2]`).
"""

from __future__ import annotations

from collections import defaultdict

from google.protobuf.descriptor import Descriptor, FieldDescriptor

_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32 = 0, 1, 2, 5


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]  # IndexError on truncation: handled by the caller
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def find_invalid_utf8(descriptor: Descriptor, data: bytes, prefix: str = "") -> str | None:
    """Return the path of the first string field that is not valid UTF-8, or None."""
    seen: defaultdict[int, int] = defaultdict(int)
    pos = 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            number, wire_type = key >> 3, key & 7
            if wire_type == _WIRE_VARINT:
                _, pos = _varint(data, pos)
            elif wire_type == _WIRE_I64:
                pos += 8
            elif wire_type == _WIRE_I32:
                pos += 4
            elif wire_type == _WIRE_LEN:
                length, pos = _varint(data, pos)
                chunk, pos = data[pos : pos + length], pos + length
                field = descriptor.fields_by_number.get(number)
                if field is None:
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
            else:  # groups or garbage: nothing more to learn
                return None
    except IndexError:
        return None
    return None


def last_length_delimited(data: bytes, number: int) -> bytes | None:
    """The payload of the last length-delimited field `number` at the top level of a
    serialized message, without parsing the rest (the router routes on this)."""
    found = None
    pos = 0
    try:
        while pos < len(data):
            key, pos = _varint(data, pos)
            field_number, wire_type = key >> 3, key & 7
            if wire_type == _WIRE_VARINT:
                _, pos = _varint(data, pos)
            elif wire_type == _WIRE_I64:
                pos += 8
            elif wire_type == _WIRE_I32:
                pos += 4
            elif wire_type == _WIRE_LEN:
                length, pos = _varint(data, pos)
                if field_number == number:
                    found = data[pos : pos + length]
                pos += length
            else:
                return found
    except IndexError:
        return found
    return found
