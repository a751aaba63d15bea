"""The router and the HTTP gateway in process on loopback (each on a loop of its own, in
a background thread), for the gateway's integration tests and benchmark."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelport.gateway.__main__ import server as gateway_server
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.settings import GatewaySettings
from modelport.router.__main__ import RouterServer
from modelport.router.settings import RouterSettings
from tests.helpers import free_port


@contextmanager
def running_router(data_dir: Path, **settings: Any) -> Iterator[RouterServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> RouterServer:
        router = RouterServer(
            RouterSettings(
                host="127.0.0.1",
                port=0,
                metrics_port=-1,
                data_dir=data_dir,
                grace_period_s=0,
                **settings,
            )
        )
        await router.start()
        return router

    router = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    try:
        yield router
    finally:
        asyncio.run_coroutine_threadsafe(router.stop(grace=0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@contextmanager
def running_gateway(
    router_port: int, metrics: GatewayMetrics | None = None, **settings: Any
) -> Iterator[str]:
    """The gateway on a free port calling the router at `router_port`; yields its base
    URL (`http://127.0.0.1:PORT`)."""
    port = free_port()
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "router_address": f"127.0.0.1:{router_port}",
        "metrics_port": -1,
        "grace_period_s": 1,
        **settings,
    }
    server = gateway_server(GatewaySettings(**values), metrics)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(600):
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.05)
    assert server.started, "the gateway did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
