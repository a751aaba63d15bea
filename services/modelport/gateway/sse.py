"""Server-sent events without buffering.

`EventStream` sends each event as soon as it is produced, a `: keep-alive` comment after
`heartbeat_s` without one, and the headers that keep proxies from buffering. Starlette's
streaming response cancels the event source when the client disconnects; the source's
`finally` (see `upstream.responses`) then cancels the call on the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
HEARTBEAT = b": keep-alive\n\n"


def event(data: Any) -> bytes:
    """One `data:` event; a str is sent as it is (`[DONE]`), anything else as JSON."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


async def with_heartbeats(source: AsyncIterator[bytes], every_s: float) -> AsyncIterator[bytes]:
    """`source`'s chunks, with a heartbeat comment whenever it is quiet for `every_s`."""
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({pending}, timeout=every_s)
            if not done:
                yield HEARTBEAT
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()


class EventStream(StreamingResponse):
    """A `text/event-stream` response of `source`'s chunks."""

    def __init__(
        self,
        source: AsyncIterator[bytes],
        heartbeat_s: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            with_heartbeats(source, heartbeat_s),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **(headers or {})},
        )
