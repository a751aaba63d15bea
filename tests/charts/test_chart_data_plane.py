"""router.dataPlane: Envoy as a sidecar of every router pod, configured over xDS by the
router beside it (docs/data-plane.md), rendered by real helm and checked with
kubernetes-validate, checkov, the router's own settings and token loader, and the real
Envoy binary (`--mode validate` of the bootstrap the sidecar's command writes)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest

from modelport.v1 import registry_pb2, registry_pb2_grpc
from tests.charts.test_chart import (
    ROOT,
    assert_checkov_clean,
    by_kind,
    objects,
    pod_spec,
    render,
)
from tests.charts.test_chart_production import (
    load_tokens_text,
    refused,
    render_notes,
    sets,
    validate,
)

ROUTER = "mp-modelport-router"
ON = ["--set", "router.dataPlane.enabled=true"]


def containers(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod_spec(by_kind(docs, "Deployment")[ROUTER])["containers"]}


def env_of(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container["env"]}


def mount_source(
    docs: list[dict[str, Any]], container: dict[str, Any], path: str
) -> tuple[str, str]:
    """(Secret name, key) that the file at `path` of `container` comes from."""
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    volumes = {v["name"]: v for v in pod_spec(by_kind(docs, "Deployment")[ROUTER])["volumes"]}
    secret = volumes[mount["name"]]["secret"]
    relative = path[len(mount["mountPath"]) + 1 :]
    (key,) = [i["key"] for i in secret["items"] if i["path"] == relative]
    return secret["secretName"], key


def arg(container: dict[str, Any], name: str) -> str | None:
    found = [a.split("=", 1)[1] for a in container["args"] if a.startswith(f"--{name}=")]
    return found[0] if found else None


def test_off_by_default_the_router_pod_is_unchanged(tools: Path) -> None:
    docs = objects(render(tools))
    assert set(containers(docs)) == {"router"}
    env = env_of(containers(docs)["router"])
    assert not any(name.startswith("MODELPORT_XDS") for name in env)
    service = by_kind(docs, "Service")[ROUTER]
    assert [p["name"] for p in service["spec"]["ports"]] == ["grpc", "metrics"]


def test_the_sidecar_its_ports_probes_and_the_routers_xds(
    tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelport.router.settings import RouterSettings
    from modelport.serving.auth import load_tokens

    text = render(tools, *ON, "--set", "metrics.serviceMonitor.enabled=true")
    validate(tools, tmp_path, text)
    docs = objects(text)
    pod = containers(docs)
    router, envoy = pod["router"], pod["envoy"]

    # The router serves the control plane and tells Envoy to open its listener on the
    # pod's port 10000; it reads these as it reads its own settings.
    env = env_of(router)
    for name, value in env.items():
        if name.startswith(("MODELPORT_XDS", "MODELPORT_DATA_PLANE")):
            monkeypatch.setenv(name, value or "")
    settings = RouterSettings()
    assert settings.xds is True
    assert settings.xds_listen_address == "0.0.0.0:10000"
    assert settings.xds_router_address == "127.0.0.1:50051"
    assert str(settings.data_plane_token_file) == "/etc/modelport/auth/data-plane-token"

    # Envoy: the router image's `modelport envoy`, the router on loopback.
    assert envoy["image"] == router["image"]
    assert envoy["args"][0] == "envoy"
    assert arg(envoy, "router") == "127.0.0.1:50051"
    assert arg(envoy, "admin-port") == "9901"
    assert arg(envoy, "stats-port") == "9902"
    assert envoy["args"][-3:] == ["--", "--concurrency", "2"]
    assert {p["name"]: p["containerPort"] for p in envoy["ports"]} == {
        "envoy": 10000,
        "envoy-stats": 9902,
    }
    # Probes go to the stats listener (admin /ready, /live), never the admin port.
    probes = {k: envoy[k]["httpGet"] for k in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert probes == {
        "startupProbe": {"path": "/ready", "port": "envoy-stats"},
        "readinessProbe": {"path": "/ready", "port": "envoy-stats"},
        "livenessProbe": {"path": "/live", "port": "envoy-stats"},
    }
    assert envoy["startupProbe"]["periodSeconds"] * envoy["startupProbe"]["failureThreshold"] == 300
    assert envoy["securityContext"] == router["securityContext"]
    assert envoy["securityContext"]["readOnlyRootFilesystem"] is True
    assert envoy["resources"]["limits"] == {"cpu": "1", "memory": "256Mi"}
    assert {m["mountPath"] for m in envoy["volumeMounts"]} == {"/tmp", "/etc/modelport/data-plane"}

    # The data plane's token: one generated `router`-role entry of the router's tokens,
    # mounted where the router and Envoy read it; Envoy sees no other token.
    secret = by_kind(docs, "Secret")["mp-modelport-tokens"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    token = data["data-plane-token"]
    assert load_tokens_text(data["tokens.yaml"], load_tokens)[token] == ("data-plane", "router")
    assert token not in data["client-tokens.yaml"]
    token_file = arg(envoy, "token-file")
    assert token_file is not None
    assert mount_source(docs, envoy, token_file) == ("mp-modelport-tokens", "data-plane-token")
    assert mount_source(docs, router, str(settings.data_plane_token_file)) == (
        "mp-modelport-tokens",
        "data-plane-token",
    )

    # The Service: Envoy on a port of its own, the router's port unchanged.
    ports = {p["name"]: p for p in by_kind(docs, "Service")[ROUTER]["spec"]["ports"]}
    assert ports["grpc"]["port"] == 50051
    assert ports["grpc"]["targetPort"] == "grpc"
    assert ports["envoy"]["port"] == 10000
    assert ports["envoy"]["targetPort"] == "envoy"
    assert ports["envoy"]["appProtocol"] == "grpc"
    assert ports["envoy-stats"]["targetPort"] == "envoy-stats"
    # Prometheus scrapes Envoy's stats; the NetworkPolicy lets clients reach Envoy.
    monitor = next(iter(by_kind(docs, "ServiceMonitor").values()))
    endpoints = {e["port"]: e.get("path", "/metrics") for e in monitor["spec"]["endpoints"]}
    assert endpoints == {"metrics": "/metrics", "envoy-stats": "/stats/prometheus"}
    policy = by_kind(docs, "NetworkPolicy")[ROUTER]
    allowed = [[p["port"] for p in rule["ports"]] for rule in policy["spec"]["ingress"]]
    assert allowed == [["grpc", "envoy"], ["metrics", "envoy-stats"]]


def test_the_notes_name_envoys_address_only_when_it_runs(tools: Path, tmp_path: Path) -> None:
    notes, docs = render_notes(tools, tmp_path / "on", "mp", *ON)
    envoy = {p["name"]: p["port"] for p in by_kind(docs, "Service")[ROUTER]["spec"]["ports"]}
    assert f"{ROUTER}.mp.svc:{envoy['envoy']}" in notes
    notes, _ = render_notes(tools, tmp_path / "off", "mp")
    assert "x-modelport-model" not in notes


def test_checkov_is_clean_with_the_sidecar(tools: Path, tmp_path: Path) -> None:
    path = tmp_path / "render.yaml"
    path.write_text(render(tools, *ON))
    assert_checkov_clean(tools, path)


def test_without_auth_envoy_gets_no_token(tools: Path) -> None:
    docs = objects(render(tools, *ON, "--set", "security.auth.enabled=false"))
    pod = containers(docs)
    assert arg(pod["envoy"], "token-file") is None
    assert "MODELPORT_DATA_PLANE_TOKEN_FILE" not in env_of(pod["router"])
    assert env_of(pod["router"])["MODELPORT_XDS"] == "true"
    assert [m["mountPath"] for m in pod["envoy"]["volumeMounts"]] == ["/tmp"]
    assert set(by_kind(docs, "Secret")) == {"mp-modelport-router-token"}


def test_the_bootstrap_the_sidecar_writes_is_valid_for_the_real_envoy(
    tools: Path, tmp_path: Path
) -> None:
    """The sidecar's own arguments, run through `modelport envoy` with the rendered token,
    and `envoy --mode validate` on what it writes."""
    docs = objects(render(tools, *ON))
    envoy = containers(docs)["envoy"]
    secret = by_kind(docs, "Secret")["mp-modelport-tokens"]
    token = base64.b64decode(secret["data"]["data-plane-token"]).decode()
    (tmp_path / "token").write_text(token)
    bootstrap = tmp_path / "bootstrap.json"
    args = []
    for a in envoy["args"]:
        if a.startswith("--token-file="):
            a = f"--token-file={tmp_path / 'token'}"
        elif a.startswith("--bootstrap="):
            a = f"--bootstrap={bootstrap}"
        args.append(a)
    out = subprocess.run(
        [sys.executable, "-m", "modelport.cli", *args, "--mode", "validate"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'services'}{os.pathsep}{ROOT}"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK" in out.stdout + out.stderr
    config = json.loads(bootstrap.read_text())
    admin = config["admin"]["address"]["socket_address"]
    assert admin == {"address": "127.0.0.1", "port_value": 9901}
    ads = config["dynamic_resources"]["ads_config"]["grpc_services"][0]
    assert ads["initial_metadata"] == [{"key": "authorization", "value": f"Bearer {token}"}]
    (listener,) = config["static_resources"]["listeners"]
    assert listener["address"]["socket_address"]["port_value"] == 9902


def test_a_bootstrap_envoy_rejects_fails_validation(tmp_path: Path) -> None:
    """The validation above can fail: a stats port outside the port range is refused."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelport.cli",
            "envoy",
            "--stats-port=70000",
            f"--bootstrap={tmp_path / 'b.json'}",
            "--",
            "--mode",
            "validate",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'services'}{os.pathsep}{ROOT}"},
    )
    assert out.returncode != 0


@pytest.mark.parametrize("schema", [True, False])
def test_tls_and_the_data_plane_are_refused_together(tools: Path, schema: bool) -> None:
    """The schema names both values; the templates (without the schema) say why."""
    skip = [] if schema else ["--skip-schema-validation"]
    error = refused(tools, *skip, *ON, "--set", "security.tls.secretName=mp-tls")
    assert "router.dataPlane.enabled" in error
    assert "security.tls.secretName" in error
    if not schema:
        assert "Envoy's listener and its xDS link to the router are plaintext" in error


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (sets(router__dataPlane__port=50051), "router.dataPlane.port"),
        (sets(router__dataPlane__statsPort=8086), "router.dataPlane.statsPort"),
        (sets(router__dataPlane__logLevel="loud"), "logLevel"),
        (sets(router__dataPlane__image="envoyproxy/envoy"), "image"),
        (sets(router__dataPlane__startupSeconds=1), "startupSeconds"),
    ],
)
def test_the_schema_refuses_bad_data_plane_values(
    tools: Path, values: list[str], named: str
) -> None:
    assert named in refused(tools, *ON, *values)


def test_ports_that_collide_with_metrics_are_refused(tools: Path) -> None:
    error = refused(tools, *ON, *sets(router__dataPlane__statsPort=9090))
    assert "router.dataPlane: port, statsPort and adminPort must differ" in error


def http_get(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def sidecar(args: list[str], moved: dict[str, str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`modelport envoy` with the rendered args, some values moved (free ports, files)."""
    command = []
    for a in args:
        name = a[2:].split("=", 1)[0] if a.startswith("--") and "=" in a else ""
        command.append(f"--{name}={moved[name]}" if name in moved else a)
    return subprocess.Popen(
        [sys.executable, "-m", "modelport.cli", *command],
        env={**env, "PYTHONPATH": f"{ROOT / 'services'}{os.pathsep}{ROOT}"},
    )


@pytest.mark.slow
def test_the_sidecar_as_rendered_takes_its_config_from_an_authenticating_router(
    tools: Path, tmp_path: Path, free_env: dict[str, str]
) -> None:
    """The rendered router env and sidecar args (ports moved to free ones), a real router
    with the rendered tokens, real Envoys: the ADS stream authenticates with the data
    plane's token, the probes' /ready turns 200 once the first config arrives, /live and
    /stats/prometheus answer on the stats port, the rest of the admin API does not, and
    the router counts no rejected config. An Envoy given the client token instead,
    started first, is still not ready then (the router refuses it the config)."""
    from tests.cluster import router_metrics, router_process, wait_for
    from tests.helpers import free_port

    docs = objects(render(tools, *ON))
    pod = containers(docs)
    secret = by_kind(docs, "Secret")["mp-modelport-tokens"]
    for key in ("tokens.yaml", "data-plane-token", "client-token"):
        (tmp_path / key).write_text(base64.b64decode(secret["data"][key]).decode())
    (tmp_path / "router-token").write_text("r" * 48)
    listen = free_port()
    rendered = env_of(pod["router"])
    router = router_process(
        free_env,
        tmp_path / "data",
        MODELPORT_XDS=rendered["MODELPORT_XDS"] or "",
        MODELPORT_XDS_LISTEN_ADDRESS=f"127.0.0.1:{listen}",
        MODELPORT_AUTH_TOKENS_FILE=str(tmp_path / "tokens.yaml"),
        MODELPORT_DATA_PLANE_TOKEN_FILE=str(tmp_path / "data-plane-token"),
        MODELPORT_BACKEND_TOKEN_FILE=str(tmp_path / "router-token"),
    )
    router.start().wait_serving()

    def moved(token: str, admin: int, stats: int) -> dict[str, str]:
        return {
            "router": f"127.0.0.1:{router.port}",
            "admin-port": str(admin),
            "stats-port": str(stats),
            "token-file": str(tmp_path / token),
            "bootstrap": str(tmp_path / f"{token}.json"),
        }

    args = pod["envoy"]["args"]
    bad_admin, bad_stats, admin, stats = (free_port() for _ in range(4))
    refused_envoy = sidecar(args, moved("client-token", bad_admin, bad_stats), free_env)
    envoy = sidecar(args, moved("data-plane-token", admin, stats), free_env)
    base = f"http://127.0.0.1:{stats}"
    try:

        def ready() -> bool:
            try:
                return http_get(f"{base}/ready")[0] == 200
            except OSError:
                return False

        wait_for(ready, "Envoy ready through its stats port")
        assert http_get(f"{base}/ready")[1].strip() == "LIVE"
        assert http_get(f"{base}/live") == (200, "LIVE\n")
        status, body = http_get(f"{base}/stats/prometheus")
        assert status == 200
        assert "envoy_cluster_upstream_cx_total" in body
        for path in ("/config_dump", "/clusters", "/quitquitquit", "/"):
            assert http_get(f"{base}{path}")[0] == 404, path
        assert http_get(f"{base}/ready", method="POST")[0] == 404
        # The listener the router told it to open is up, and the router saw no NACK.
        assert "modelport-envoy" in http_get(f"http://127.0.0.1:{admin}/listeners")[1]
        samples = router_metrics(router)
        assert samples["modelport_router_xds_streams"] >= 1
        assert not any(k.startswith("modelport_router_xds_nacks_total") for k in samples)
        # Calls through Envoy's listener reach the router (no header: its fallback route),
        # which authenticates them as it does on its own port.
        client_token = (tmp_path / "client-token").read_text()
        with grpc.insecure_channel(f"127.0.0.1:{listen}") as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            listed = stub.ListModels(
                registry_pb2.ListModelsRequest(),
                metadata=(("authorization", f"Bearer {client_token}"),),
                timeout=30,
            )
            assert list(listed.models) == []
            with pytest.raises(grpc.RpcError) as denied:
                stub.ListModels(registry_pb2.ListModelsRequest(), timeout=30)
            assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # The Envoy with a client token: alive, started first, and still without config.
        assert refused_envoy.poll() is None
        status, body = http_get(f"http://127.0.0.1:{bad_admin}/ready")
        assert status == 503
        assert "INITIALIZING" in body
    finally:
        for process in (envoy, refused_envoy):
            process.terminate()
            process.wait(30)
        router.stop()
