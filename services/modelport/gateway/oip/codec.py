"""REST tensors ⇄ the gRPC protocol's raw tensors, without numpy.

Every input is sent to the router as `raw_input_contents` (row-major, little-endian;
BYTES as a 4-byte little-endian length before each element), whether it came as JSON
`data` or in the binary extension, so both forms reach the model the same way and the
model answers raw outputs, which are sent back as JSON `data` or as binary data, as the
request asked (`binary_data_output`, per-output `binary_data`). Mistakes are
INVALID_ARGUMENT naming the tensor: `inputs[text].data: ...`.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Iterator
from typing import Any

from modelport.gateway.errors import bad_request
from modelport.oip import CONTENTS_FIELD

FORMATS = {
    "BOOL": "?",
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "FP16": "e",
    "FP32": "f",
    "FP64": "d",
}
DATATYPES = (*FORMATS, "BF16", "BYTES")


def flatten(data: Any) -> Iterator[Any]:
    """Row-major elements of nested lists."""
    if isinstance(data, list):
        for item in data:
            yield from flatten(item)
    else:
        yield data


def elements(shape: list[int]) -> int:
    return math.prod(shape)


def pack_bytes(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def unpack_bytes(raw: bytes, where: str) -> list[bytes]:
    items, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise bad_request(where, "BYTES data ends inside an element's length")
        (size,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + size > len(raw):
            raise bad_request(where, "BYTES element runs past the end of the data")
        items.append(raw[offset : offset + size])
        offset += size
    return items


def json_to_raw(tensor: dict[str, Any], where: str) -> bytes:
    """The raw bytes of a tensor given as JSON `data`."""
    datatype, shape = tensor["datatype"], tensor["shape"]
    if "data" not in tensor:
        raise bad_request(f"{where}.data", "is required (or send it as binary data)")
    values = list(flatten(tensor["data"]))
    if len(values) != elements(shape):
        raise bad_request(
            f"{where}.data", f"has {len(values)} elements; shape {shape} needs {elements(shape)}"
        )
    if datatype == "BYTES":
        encoding = (tensor.get("parameters") or {}).get("content_type")
        items = []
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise bad_request(f"{where}.data[{i}]", "a BYTES element is a JSON string")
            if encoding == "base64":
                try:
                    items.append(base64.b64decode(value, validate=True))
                except ValueError as exc:
                    raise bad_request(f"{where}.data[{i}]", "is not base64") from exc
            else:
                items.append(value.encode("utf-8"))
        return pack_bytes(items)
    if datatype not in FORMATS:
        raise bad_request(f"{where}.datatype", f"{datatype} travels only as binary data")
    try:
        return struct.pack(f"<{len(values)}{FORMATS[datatype]}", *values)
    except struct.error as exc:
        raise bad_request(f"{where}.data", f"does not fit {datatype}: {exc}") from exc


def check_raw(tensor: dict[str, Any], raw: bytes, where: str) -> None:
    """Binary data must have the size its shape and datatype say."""
    datatype, shape = tensor["datatype"], tensor["shape"]
    if datatype == "BYTES":
        count = len(unpack_bytes(raw, where))
        if count != elements(shape):
            raise bad_request(where, f"has {count} BYTES elements; shape {shape} needs so many")
        return
    size = 2 if datatype == "BF16" else struct.calcsize(FORMATS[datatype])
    if len(raw) != size * elements(shape):
        raise bad_request(
            where,
            f"binary_data_size is {len(raw)} bytes; {datatype} of shape {shape} is "
            f"{size * elements(shape)}",
        )


def raw_to_json(datatype: str, raw: bytes, where: str) -> tuple[list[Any], dict[str, Any]]:
    """JSON `data` of a raw output, and the output's parameters (`content_type: base64`
    for BYTES that are not UTF-8 text)."""
    if datatype == "BYTES":
        items = unpack_bytes(raw, where)
        try:
            return [item.decode("utf-8") for item in items], {}
        except UnicodeDecodeError:
            encoded = [base64.b64encode(item).decode("ascii") for item in items]
            return encoded, {"content_type": "base64"}
    if datatype == "BF16":
        padded = b"".join(b"\x00\x00" + raw[i : i + 2] for i in range(0, len(raw), 2))
        return list(struct.unpack(f"<{len(raw) // 2}f", padded)), {}
    fmt = FORMATS[datatype]
    return list(struct.unpack(f"<{len(raw) // struct.calcsize(fmt)}{fmt}", raw)), {}


def contents_to_raw(datatype: str, contents: Any) -> bytes:
    """Raw bytes of a typed `contents` message (an output a backend sent typed)."""
    values = list(getattr(contents, CONTENTS_FIELD[datatype]))
    if datatype == "BYTES":
        return pack_bytes(values)
    return struct.pack(f"<{len(values)}{FORMATS[datatype]}", *values)


def parameter_value(parameter: Any) -> Any:
    """The JSON value of an `InferParameter`."""
    which = parameter.WhichOneof("parameter_choice")
    return getattr(parameter, which) if which else None


def set_parameter(parameter: Any, value: Any, where: str) -> None:
    """Fill an `InferParameter` from a JSON scalar."""
    if isinstance(value, bool):
        parameter.bool_param = value
    elif isinstance(value, int):
        parameter.int64_param = value
    elif isinstance(value, float):
        parameter.double_param = value
    elif isinstance(value, str):
        parameter.string_param = value
    else:
        raise bad_request(where, "a parameter is a JSON boolean, number or string")
