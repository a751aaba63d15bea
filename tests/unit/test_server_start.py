"""A server that cannot listen says which port is taken and which setting moves it,
instead of grpc's "Failed to bind ... set GRPC_VERBOSITY=debug"."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest

from modelport.serving.metrics import Metrics
from modelport.serving.server import GrpcServer
from modelport.serving.settings import CommonSettings


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


async def test_a_taken_grpc_port_names_the_port_and_the_setting(taken_port: int) -> None:
    server = GrpcServer(
        CommonSettings(host="127.0.0.1", port=taken_port, metrics_port=-1), [], Metrics()
    )
    with pytest.raises(OSError, match=re.escape(f"port {taken_port} is in use")) as info:
        await server.start()
    assert "MODELPORT_PORT" in str(info.value)
    assert "GRPC_VERBOSITY" not in str(info.value)


async def test_a_taken_metrics_port_names_the_setting_and_stops_the_server(
    taken_port: int,
) -> None:
    server = GrpcServer(
        CommonSettings(host="127.0.0.1", port=0, metrics_port=taken_port), [], Metrics()
    )
    with pytest.raises(OSError, match="MODELPORT_METRICS_PORT") as info:
        await server.start()
    assert f"127.0.0.1:{taken_port}" in str(info.value)
    with socket.socket() as probe:  # the gRPC port it had opened is free again
        probe.bind(("127.0.0.1", server.port))
