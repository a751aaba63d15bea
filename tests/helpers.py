"""Run a real InferenceServer on loopback in a background thread with its own loop."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from modelport.runtime.server import InferenceServer
from modelport.runtime.settings import ModelSpec, ServerSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    build: Callable[[ServerSettings], InferenceServer],
    settings: ServerSettings,
    models: Sequence[ModelSpec],
) -> Iterator[InferenceServer]:
    """Start the server, load `models`, yield it; stop it gracefully on exit."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, InferenceServer] = {}
    errors: list[BaseException] = []

    async def start() -> None:
        server = build(settings)
        await server.start()
        await server.load_models(models)
        holder["server"] = server

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except BaseException as exc:
            errors.append(exc)
        ready.set()
        if not errors:
            loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(300)
    if errors:
        raise errors[0]
    server = holder["server"]
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(grace=5), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


def loopback_settings(**overrides: object) -> ServerSettings:
    """Loopback, free port, no metrics port unless asked."""
    values: dict[str, object] = {"host": "127.0.0.1", "port": 0, "metrics_port": -1}
    values.update(overrides)
    return ServerSettings(**values)  # type: ignore[arg-type]
