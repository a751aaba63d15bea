"""Machinery of the gRPC fuzzer (`tests/integration/test_fuzz.py`): every RPC described by
its descriptor, raw-bytes calls of any cardinality with a deadline, request strategies
(mutated valid requests, random messages built from descriptors, images, OIP tensors)
and the property every answer must satisfy."""

from __future__ import annotations

import io
import re
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import strategies as st
from PIL import Image

from modelport.oip.v2 import open_inference_pb2 as oip

DEADLINE_S = 20.0
"""Every call's deadline: DEADLINE_EXCEEDED counts as a hang."""
WATCH_S = 0.2
"""Open-ended streams (WatchModels) are cancelled after their first event or this long."""
OPEN_ENDED = {"/modelport.v1.RegistryService/WatchModels"}
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
}
"""Statuses a backend may answer a bad request with (UNAVAILABLE only through a router,
whose replicas may be unreachable)."""
UPSTREAM_RACE = "Internal error from Core"
"""What a grpc.aio client reports instead of the server's status when the server ends a
request stream early and a write then fails (grpc/grpc#36066, fix proposed in
grpc/grpc#43486). The router relays request streams with a grpc.aio client, so a stream
the backend refuses part-way can reach the caller as this INTERNAL. Tolerated there only,
and counted."""
UPSTREAM_RACES: list[str] = []
FIELD = re.compile(r"[A-Za-z_][\w.]*(\[.*\])?(\.[\w.]+)?")


@dataclass(frozen=True)
class Rpc:
    """One method, called with raw bytes."""

    path: str
    request: Descriptor
    response: type[Message]
    client_streaming: bool
    server_streaming: bool


def rpcs(*files: Any) -> dict[str, Rpc]:
    """Every method of every service in the given `_pb2` modules, by path."""
    found = {}
    for file in files:
        for service in file.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                found[path] = Rpc(
                    path,
                    method.input_type,
                    GetMessageClass(method.output_type),
                    method.client_streaming,
                    method.server_streaming,
                )
    return found


# -- calling ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str
    responses: list[bytes]
    error: grpc.Call | None = None


def call(channel: grpc.Channel, rpc: Rpc, requests: Sequence[bytes]) -> Outcome:
    """Send `requests` (one unless the RPC streams requests) and collect the answer."""
    kind = {
        (False, False): "unary_unary",
        (False, True): "unary_stream",
        (True, False): "stream_unary",
        (True, True): "stream_stream",
    }[(rpc.client_streaming, rpc.server_streaming)]
    method = getattr(channel, kind)(rpc.path, None, None)
    argument: Any = iter(requests) if rpc.client_streaming else requests[0]
    responses: list[bytes] = []
    try:
        if not rpc.server_streaming:
            responses.append(method(argument, timeout=DEADLINE_S))
        elif rpc.path in OPEN_ENDED:
            stream = method(argument, timeout=DEADLINE_S)
            timer = threading.Timer(WATCH_S, stream.cancel)
            timer.start()
            try:
                responses.extend(_first(stream))
            finally:
                timer.cancel()
                stream.cancel()
        else:
            responses.extend(method(argument, timeout=DEADLINE_S))
    except grpc.RpcError as exc:
        if not isinstance(exc, grpc.Call):
            raise
        if exc.code() == grpc.StatusCode.CANCELLED and rpc.path in OPEN_ENDED:
            return Outcome(grpc.StatusCode.OK, "", responses)
        return Outcome(exc.code(), exc.details() or "", responses, exc)
    return Outcome(grpc.StatusCode.OK, "", responses)


def _first(stream: Iterable[bytes]) -> list[bytes]:
    for response in stream:
        return [response]
    return []


def assert_names_field(details: str, error: grpc.Call | None, where: str) -> None:
    """An INVALID_ARGUMENT says `<field>: <what is wrong>` and, when it carries
    `google.rpc.BadRequest` details, names the same field there."""
    field, sep, _ = details.partition(": ")
    assert sep, f"{where}: no field named in {details!r}"
    assert FIELD.match(field), f"{where}: no field named in {details!r}"
    status = rpc_status.from_call(error) if error is not None else None
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            assert any(details.startswith(v.field + ": ") for v in bad.field_violations), (
                f"{where}: {details!r} vs {bad}"
            )


def check(
    channel: grpc.Channel,
    rpc: Rpc,
    requests: Sequence[bytes],
    allowed: set[grpc.StatusCode],
    relayed: bool = False,
) -> Outcome:
    """The property: an allowed status (never INTERNAL, UNKNOWN or a hang), a field named
    in every INVALID_ARGUMENT, and responses that parse (errors inside a ModelStreamInfer
    stream included). `relayed`: through the router (see UPSTREAM_RACE)."""
    outcome = call(channel, rpc, requests)
    where = f"{rpc.path} {[r[:300] for r in requests]!r}"
    if relayed and rpc.client_streaming and outcome.details == UPSTREAM_RACE:
        UPSTREAM_RACES.append(rpc.path)
        return outcome
    assert outcome.code in allowed, f"{where}: {outcome.code.name} {outcome.details}"
    if outcome.code == grpc.StatusCode.INVALID_ARGUMENT:
        assert_names_field(outcome.details, outcome.error, where)
    for data in outcome.responses:
        response = rpc.response.FromString(data)
        if isinstance(response, oip.ModelStreamInferResponse) and response.error_message:
            name, _, message = response.error_message.partition(": ")
            assert grpc.StatusCode[name] in allowed, f"{where}: {response.error_message}"
            if name == "INVALID_ARGUMENT":
                assert_names_field(message, None, where)
    return outcome


# -- raw mutations of valid requests --------------------------------------------------------
def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


INVALID_UTF8 = [b"\xff", b"a\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]


@st.composite
def _nested(draw: Any, descriptor: Descriptor, content: bytes, depth: int = 0) -> bytes:
    """A field somewhere below `descriptor` that holds `content`: a string or bytes field,
    possibly inside (repeated, map) message fields."""
    fields = [
        f
        for f in descriptor.fields
        if f.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
        or (f.type == FieldDescriptor.TYPE_MESSAGE and depth < 3)
    ]
    if not fields:
        return b""
    field = draw(st.sampled_from(fields))
    if field.message_type is not None:
        inner = draw(_nested(field.message_type, content, depth + 1))
        return length_delimited(field.number, inner)
    return length_delimited(field.number, content)


@st.composite
def _wrong_wire_type(draw: Any, descriptor: Descriptor) -> bytes:
    numbers = [f.number for f in descriptor.fields] or [1]
    number = draw(st.sampled_from(numbers))
    wire = draw(st.integers(0, 7))
    key = varint(number << 3 | wire)
    payload = {
        0: varint(draw(st.integers(0, 2**64 - 1))),
        1: draw(st.binary(min_size=8, max_size=8)),
        2: varint(draw(st.integers(0, 2**32))) + draw(st.binary(max_size=32)),
        5: draw(st.binary(min_size=4, max_size=4)),
    }.get(wire, draw(st.binary(max_size=16)))
    return key + bytes(payload)


@st.composite
def mutations(draw: Any, seed: bytes, descriptor: Descriptor) -> bytes:
    """The seed as is, random bytes, or the seed truncated, bit-flipped, spliced,
    extended, with a field of the wrong wire type, invalid UTF-8 in a string field
    (possibly nested), or a huge or empty field."""
    kind = draw(
        st.sampled_from(
            ["seed", "random", "truncate", "flip", "splice", "extend", "wire", "utf8", "huge"]
        )
    )
    if kind == "seed":
        return seed
    if kind == "random":
        return draw(st.binary(max_size=512))  # type: ignore[no-any-return]
    data = bytearray(seed)
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if kind == "flip" and data:
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if kind == "splice":
        i = draw(st.integers(0, len(data)))
        return bytes(data[:i] + draw(st.binary(max_size=64)) + data[i:])
    if kind == "wire":
        return bytes(data + draw(_wrong_wire_type(descriptor)))
    if kind == "utf8":
        return bytes(data + draw(_nested(descriptor, draw(st.sampled_from(INVALID_UTF8)))))
    if kind == "huge":
        size = draw(st.sampled_from([0, 1 << 14, 1 << 17, 1 << 20]))
        return bytes(data + draw(_nested(descriptor, b"x" * size)))
    return bytes(data + draw(st.binary(min_size=1, max_size=256)))


# -- random messages from descriptors --------------------------------------------------------
Hints = Mapping[str, st.SearchStrategy[Any]]
"""Strategies for particular fields (by full name), instead of random values of their type."""

_INT32 = st.one_of(st.integers(-3, 16), st.integers(-(2**31), 2**31 - 1))
_INT64 = st.one_of(_INT32, st.sampled_from([2**40, 2**62, 2**63 - 1, -(2**63)]))
_UINT32 = st.one_of(st.integers(0, 16), st.integers(0, 2**32 - 1))
_UINT64 = st.one_of(_UINT32, st.sampled_from([2**63, 2**64 - 1]))
_FLOAT = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0, -1.0, 1e-30, 1e30, float("nan"), float("inf")]),
    st.floats(width=32),
)
_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_FLOAT: _FLOAT,
    FieldDescriptor.TYPE_DOUBLE: st.one_of(_FLOAT, st.floats()),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_STRING: st.text(max_size=24),
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
    FieldDescriptor.TYPE_ENUM: st.integers(-2, 12),
}


def _value(field: FieldDescriptor, hints: Hints, depth: int) -> st.SearchStrategy[Any]:
    if field.full_name in hints:
        return hints[field.full_name]
    if field.message_type is not None:
        return messages(field.message_type, hints, depth + 1)
    return _SCALARS[field.type]


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


@st.composite
def _message(draw: Any, descriptor: Descriptor, hints: Hints, depth: int) -> Message:
    message = GetMessageClass(descriptor)()
    for field in descriptor.fields:
        if depth > 3 or not draw(st.booleans()):
            continue
        target: Any = getattr(message, field.name) if field.is_repeated else None
        if _is_map(field):
            entries = _value(field, hints, depth)
            for entry in draw(st.lists(entries, max_size=3)):
                value = entry.value
                if isinstance(value, Message):
                    target[entry.key].CopyFrom(value)
                else:
                    target[entry.key] = value
        elif field.is_repeated and field.full_name in hints:
            target.extend(draw(hints[field.full_name]))
        elif field.is_repeated:
            values = draw(st.lists(_value(field, hints, depth), max_size=3))
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                for value in values:
                    target.add().CopyFrom(value)
            else:
                target.extend(values)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, field.name).CopyFrom(draw(_value(field, hints, depth)))
        else:
            setattr(message, field.name, draw(_value(field, hints, depth)))
    return message


def messages(descriptor: Descriptor, hints: Hints, depth: int = 0) -> st.SearchStrategy[Message]:
    """Random messages of `descriptor`: each field set or not, with edge values (NaN,
    infinities, extreme integers, unknown enum numbers) and `hints` where they apply."""
    return _message(descriptor, hints, depth)


def requests(rpc: Rpc, seeds: Sequence[bytes], hints: Hints) -> st.SearchStrategy[list[bytes]]:
    """What one case sends: a mutated seed or a random message (several, or none, on
    request streams)."""
    one = st.one_of(
        st.sampled_from(seeds).flatmap(lambda seed: mutations(seed, rpc.request)),
        messages(rpc.request, hints).map(lambda m: m.SerializeToString()),
    )
    if rpc.client_streaming:
        return st.lists(one, max_size=4)
    return one.map(lambda r: [r])


# -- images -----------------------------------------------------------------------------------
def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header declares `width` x `height` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 4096, 9))
        + _chunk(b"IEND", b"")
    )


def gif_bomb(width: int = 65535, height: int = 65535) -> bytes:
    """A GIF whose logical screen and only frame are `width` x `height`."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b";"


def patched(data: bytes, marker: bytes, offset: int, value: bytes) -> bytes:
    """`data` with `value` written `offset` bytes after the first `marker`."""
    at = data.index(marker) + offset
    return data[:at] + value + data[at + len(value) :]


def webp_bomb(width: int = 1 << 24, height: int = 1 << 24) -> bytes:
    """An extended-format WebP whose canvas is `width` x `height` pixels."""
    body = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little")
    body += (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def bombs(small: Callable[[str], bytes]) -> dict[str, bytes]:
    """Small files that claim huge canvases (`small(fmt)` is a valid tiny image)."""
    return {
        "png-50000x50000": png_bomb(50_000, 50_000),
        "png-2^31x2^31": png_bomb(2**31 - 1, 2**31 - 1),
        "png-1x10^9": png_bomb(1, 1_000_000_000),
        "gif-65535x65535": gif_bomb(),
        "jpeg-65000x65000": patched(
            small("JPEG"), b"\xff\xc0", 5, struct.pack(">HH", 65000, 65000)
        ),
        "bmp-50000x50000": patched(small("BMP"), b"BM", 18, struct.pack("<ii", 50000, 50000)),
        "webp-16Mx16M": webp_bomb(),
    }


FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")


@st.composite
def _small_image(draw: Any) -> bytes:
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    mode = draw(st.sampled_from(["RGB", "L", "RGBA", "P", "1"]))
    fmt = draw(st.sampled_from(FORMATS))
    if fmt == "JPEG" and mode not in ("RGB", "L"):
        mode = "RGB"
    colour = draw(st.integers(0, 255))
    return encode(
        Image.new(mode, size, colour if mode != "RGB" else (colour, 0, 255 - colour)), fmt
    )


@st.composite
def images(draw: Any, huge: Sequence[bytes]) -> bytes:
    """A valid tiny image, one cut short, with a corrupt header or the wrong magic, a
    decompression bomb from `huge`, empty bytes or random bytes."""
    kind = draw(
        st.sampled_from(["valid", "truncate", "header", "magic", "bomb", "empty", "random"])
    )
    if kind == "bomb":
        return draw(st.sampled_from(list(huge)))  # type: ignore[no-any-return]
    if kind == "empty":
        return b""
    if kind == "random":
        return draw(st.binary(min_size=1, max_size=256))  # type: ignore[no-any-return]
    data = bytearray(draw(_small_image()))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(1, len(data) - 1))])
    if kind == "header":
        for _ in range(draw(st.integers(1, 6))):
            i = draw(st.integers(0, min(len(data), 64) - 1))
            data[i] = draw(st.integers(0, 255))
    if kind == "magic":
        data[:4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


# -- Open Inference Protocol tensors ----------------------------------------------------------
DATATYPES = (
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "BF16", "FP32", "FP64", "BYTES",
)  # fmt: skip
BAD_DATATYPES = ("fp32", "STRING", "", "INT128", "BYTES ", "TYPE_FP32", "\u00e9")
DIMS = st.one_of(st.integers(-2, 4), st.sampled_from([2**31, 2**40, 2**62, 2**63 - 1, -(2**63)]))
PARAMETERS = (
    "top_k", "max_new_tokens", "temperature", "top_p", "do_sample", "seed", "stop",
    "repetition_penalty", "normalize", "dimensions", "truncate", "threshold",
    "max_detections", "min_score",
)  # fmt: skip


@st.composite
def raw_bytes_tensor(draw: Any, elements: st.SearchStrategy[bytes]) -> bytes:
    """BYTES raw contents: well-formed length prefixes, or lying, cut or left-over ones."""
    items = draw(st.lists(elements, max_size=3))
    data = b"".join(struct.pack("<I", len(i)) + i for i in items)
    kind = draw(st.sampled_from(["good", "good", "lie", "cut", "extra"]))
    if kind == "lie":
        return struct.pack("<I", draw(st.integers(0, 2**32 - 1))) + data
    if kind == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "extra":
        return data + bytes(draw(st.binary(min_size=1, max_size=7)))
    return data


def oip_hints(
    models: Sequence[str], inputs: Sequence[str], elements: st.SearchStrategy[bytes]
) -> dict[str, st.SearchStrategy[Any]]:
    """ModelInferRequest fields: served models, their input names, datatypes good and bad,
    negative and huge dimensions, `elements` (texts or images) in BYTES tensors and raw
    contents, known and unknown parameters."""
    prefix = "inference.ModelInferRequest"
    texts = st.text(max_size=16)
    return {
        f"{prefix}.model_name": st.one_of(st.sampled_from(models), texts),
        f"{prefix}.model_version": st.sampled_from(["", "1", "2", "x"]),
        f"{prefix}.InferInputTensor.name": st.one_of(st.sampled_from(inputs), texts),
        f"{prefix}.InferInputTensor.datatype": st.sampled_from(DATATYPES + BAD_DATATYPES),
        f"{prefix}.InferInputTensor.shape": st.one_of(
            st.lists(DIMS, max_size=4), st.lists(st.sampled_from([0, 1]), min_size=60, max_size=70)
        ),
        f"{prefix}.InferRequestedOutputTensor.name": st.one_of(
            st.sampled_from(["text", "label", "score", "embedding", "detections", "index"]),
            texts,
        ),
        f"{prefix}.ParametersEntry.key": st.one_of(st.sampled_from(PARAMETERS), texts),
        f"{prefix}.InferInputTensor.ParametersEntry.key": texts,
        "inference.InferTensorContents.bytes_contents": st.lists(elements, max_size=3),
        f"{prefix}.raw_input_contents": st.lists(
            st.one_of(raw_bytes_tensor(elements), st.binary(max_size=64)), max_size=3
        ),
    }
