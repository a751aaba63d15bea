"""The generated token Secrets across `helm upgrade`, with helm's real `lookup` against a
real kube-apiserver (`make k8s`): an upgrade render finds the Secrets the install made
and keeps their tokens; a namespace without them gets new ones.

The apiserver is 1.20 (what `make k8s` builds) and the chart asks for 1.27 or later, so
this renders a copy of the chart whose `kubeVersion` is lifted; the templates are the
chart's own."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.test_chart import CHART, by_kind, objects, run
from tests.integration.test_kubernetes_discovery import kubeconfig  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

SECRETS = ("mp-modelport-router-token", "mp-modelport-tokens")


def secrets(tools: Path, chart: Path, config: Path, namespace: str, *args: str) -> dict[str, Any]:
    out = run(
        tools,
        "helm",
        "template",
        "mp",
        str(chart),
        "-n",
        namespace,
        "--dry-run=server",
        "--kubeconfig",
        str(config),
        "--show-only",
        "templates/router-token.yaml",
        *args,
    )
    assert out.returncode == 0, out.stderr
    return by_kind(objects(out.stdout), "Secret")


def test_upgrades_keep_the_generated_tokens(
    tools: Path,
    kubeconfig: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    from kubernetes import client
    from kubernetes import config as kube_config

    chart = tmp_path / "modelport"
    shutil.copytree(CHART, chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    meta["kubeVersion"] = ">=1.20.0-0"
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))

    kube_config.load_kube_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    core = client.CoreV1Api()
    for namespace in ("installed", "fresh"):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))

    installed = secrets(tools, chart, kubeconfig, "installed")
    assert set(installed) == set(SECRETS)
    for secret in installed.values():  # what `helm install` would create
        core.create_namespaced_secret("installed", secret)

    upgraded = secrets(tools, chart, kubeconfig, "installed", "--is-upgrade")
    for name in SECRETS:
        assert upgraded[name]["data"] == installed[name]["data"], name
    tokens = base64.b64decode(upgraded["mp-modelport-tokens"]["data"]["tokens.yaml"]).decode()
    admin = base64.b64decode(installed["mp-modelport-tokens"]["data"]["admin-token"]).decode()
    assert admin in tokens

    fresh = secrets(tools, chart, kubeconfig, "fresh")
    for name in SECRETS:
        assert fresh[name]["data"] != installed[name]["data"], name

    # router.dataPlane turned on by an upgrade: the data plane's token is made and listed,
    # the others are kept; a later upgrade keeps it.
    on = ("--set", "router.dataPlane.enabled=true")
    turned_on = secrets(tools, chart, kubeconfig, "installed", "--is-upgrade", *on)
    tokens_secret = turned_on["mp-modelport-tokens"]
    for key in ("admin-token", "client-token"):
        assert tokens_secret["data"][key] == installed["mp-modelport-tokens"]["data"][key]
    plane = base64.b64decode(tokens_secret["data"]["data-plane-token"]).decode()
    assert plane in base64.b64decode(tokens_secret["data"]["tokens.yaml"]).decode()
    core.replace_namespaced_secret("mp-modelport-tokens", "installed", tokens_secret)
    again = secrets(tools, chart, kubeconfig, "installed", "--is-upgrade", *on)
    assert again["mp-modelport-tokens"]["data"] == tokens_secret["data"]
