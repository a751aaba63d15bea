"""Request bodies: JSON parsed once, pydantic wire models validated, and every mistake an
INVALID_ARGUMENT naming the field (`messages[1].role`, `input`), never a 500."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from modelport.gateway.errors import bad_request

W = TypeVar("W", bound=BaseModel)


def field_path(location: tuple[int | str, ...]) -> str:
    """`("messages", 1, "role")` → `messages[1].role`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def parse_json(raw: bytes) -> Any:
    """The JSON value of `raw`; 400 saying where it is broken."""
    if not raw.strip():
        raise bad_request("body", "is empty; send a JSON object")
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise bad_request("body", f"is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise bad_request(
            "body", f"is not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ) from exc


async def json_body(request: Request) -> Any:
    return parse_json(await request.body())


def validate(model: type[W], data: Any) -> W:
    """`data` as the wire model `model`; 400 naming the first bad field."""
    if not isinstance(data, dict):
        raise bad_request("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = tuple(p for p in first["loc"] if not _is_union_tag(p))
        raise bad_request(field_path(location), first["msg"].lower()) from exc


def _is_union_tag(part: int | str) -> bool:
    """pydantic names the union member it tried (`str`, `list[str]`) in error locations."""
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool"})
