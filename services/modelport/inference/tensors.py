"""Open Inference Protocol tensors ⇄ plain Python values (no protobuf outside here and
the OIP servicer).

Inputs arrive in typed `contents` or in `raw_input_contents` (row-major; BYTES as a
4-byte little-endian length before each element; FP16/BF16 raw only). Every mistake is
INVALID_ARGUMENT naming the tensor: `inputs[text]: ...`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np

from modelport.oip import CONTENTS_FIELD
from modelport.serving.errors import InvalidArgument

NUMPY = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}
DATATYPES = (*NUMPY, "BF16", "BYTES")


@dataclass(frozen=True)
class Tensor:
    """A decoded tensor: BYTES as a flat list of bytes, numbers as a numpy array."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Any

    def strings(self, field: str | None = None) -> list[str]:
        """BYTES elements as UTF-8 text."""
        where = field or f"inputs[{self.name}]"
        if self.datatype != "BYTES":
            raise InvalidArgument(where, f"must be BYTES, not {self.datatype}")
        out = []
        for i, item in enumerate(self.data):
            try:
                out.append(bytes(item).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InvalidArgument(f"{where}[{i}]", "is not valid UTF-8") from exc
        return out


def parse_raw_bytes(raw: bytes, count: int, field: str) -> list[bytes]:
    items, pos = [], 0
    for _ in range(count):
        if pos + 4 > len(raw):
            raise InvalidArgument(field, "raw BYTES data ends inside a length prefix")
        (length,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + length > len(raw):
            raise InvalidArgument(field, "raw BYTES element runs past the end of the data")
        items.append(raw[pos : pos + length])
        pos += length
    if pos != len(raw):
        raise InvalidArgument(field, f"raw BYTES data has {len(raw) - pos} bytes left over")
    return items


def serialize_raw_bytes(items: Sequence[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def _reshape(array: np.ndarray, shape: tuple[int, ...], field: str) -> np.ndarray:
    """`array` in `shape`; a shape numpy cannot hold (over 64 dimensions, or a zero-size
    shape whose other dimensions overflow) is the caller's mistake, not ours."""
    try:
        return array.reshape(shape)
    except ValueError as exc:
        raise InvalidArgument(field, f"shape {list(shape)} is not supported: {exc}") from exc


def decode_input(tensor: Any, raw: bytes | None) -> Tensor:
    """One `ModelInferRequest.InferInputTensor` (with its raw entry, if any)."""
    field = f"inputs[{tensor.name}]"
    datatype = tensor.datatype
    if datatype not in DATATYPES:
        raise InvalidArgument(field, f"unknown datatype {datatype!r}")
    shape = tuple(int(d) for d in tensor.shape)
    if any(d < 0 for d in shape):
        raise InvalidArgument(field, f"shape {list(shape)} has a negative dimension")
    count = prod(shape)
    if raw is not None:
        if datatype == "BYTES":
            return Tensor(tensor.name, datatype, shape, parse_raw_bytes(raw, count, field))
        if datatype == "BF16":
            if len(raw) != count * 2:
                raise InvalidArgument(
                    field, f"raw data is {len(raw)} bytes; shape needs {count * 2}"
                )
            words = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            floats = words.view(np.float32)
            return Tensor(tensor.name, datatype, shape, _reshape(floats, shape, field))
        dtype = np.dtype(NUMPY[datatype]).newbyteorder("<")
        if len(raw) != count * dtype.itemsize:
            raise InvalidArgument(
                field,
                f"raw data is {len(raw)} bytes; shape {list(shape)} of {datatype} "
                f"needs {count * dtype.itemsize}",
            )
        array = np.frombuffer(raw, dtype)
        return Tensor(tensor.name, datatype, shape, _reshape(array, shape, field))
    if datatype in ("FP16", "BF16"):
        raise InvalidArgument(field, f"{datatype} tensors travel only as raw_input_contents")
    values = list(getattr(tensor.contents, CONTENTS_FIELD[datatype]))
    if len(values) != count:
        raise InvalidArgument(
            field, f"has {len(values)} elements in contents; shape {list(shape)} needs {count}"
        )
    if datatype == "BYTES":
        return Tensor(tensor.name, datatype, shape, values)
    array = np.array(values, NUMPY[datatype])
    return Tensor(tensor.name, datatype, shape, _reshape(array, shape, field))


@dataclass(frozen=True)
class Output:
    """An output to send: BYTES as a list of bytes, numbers as a numpy array."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Any


def encode_output(output: Output, tensor: Any, raw: bool) -> bytes | None:
    """Fill `tensor` (an InferOutputTensor); return its raw bytes when `raw`."""
    tensor.name = output.name
    tensor.datatype = output.datatype
    tensor.shape.extend(output.shape)
    if output.datatype == "BYTES":
        items = [item if isinstance(item, bytes) else str(item).encode() for item in output.data]
        if raw:
            return serialize_raw_bytes(items)
        tensor.contents.bytes_contents.extend(items)
        return None
    array: np.ndarray = np.ascontiguousarray(output.data, dtype=NUMPY[output.datatype])
    if raw:
        return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    getattr(tensor.contents, CONTENTS_FIELD[output.datatype]).extend(array.ravel().tolist())
    return None


def parameter_value(parameter: Any) -> Any:
    """The Python value of an InferParameter (any of its five kinds)."""
    kind = parameter.WhichOneof("parameter_choice")
    return getattr(parameter, kind) if kind else None


def only_input(inputs: dict[str, Tensor], name: str) -> Tensor:
    """The model's single input `name`; anything else is named in the error."""
    for other in inputs:
        if other != name:
            raise InvalidArgument(f"inputs[{other}]", f"is not an input of the model ({name})")
    if name not in inputs:
        raise InvalidArgument(f"inputs[{name}]", "is required")
    return inputs[name]


def param(params: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    """A request parameter of the expected kind (ints are accepted where floats are)."""
    value = params.get(key)
    if value is None:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise InvalidArgument(f"parameters[{key}]", f"must be a {kind.__name__}")
    return value


def labels_outputs(results: Sequence[Sequence[tuple[str, float]]]) -> list[Output]:
    """`label` BYTES [n, k] and `score` FP32 [n, k] from ranked (label, score) lists."""
    k = min((len(r) for r in results), default=0)
    labels = [label.encode() for r in results for label, _ in r[:k]]
    scores = np.array([[score for _, score in r[:k]] for r in results], np.float32)
    shape = (len(results), k)
    return [Output("label", "BYTES", shape, labels), Output("score", "FP32", shape, scores)]
