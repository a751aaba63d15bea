"""The chart's HTTP gateway: Deployment, Service, PDB, HPA, the NetworkPolicy that lets it
reach the router, and the optional Ingress, rendered with the real helm and validated
against the Kubernetes schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.charts.test_chart import KUBE_VERSIONS, objects, render, run
from tests.charts.test_chart_production import refused


def gateway_objects(text: str) -> dict[str, dict[str, Any]]:
    """The gateway's objects by kind (NetworkPolicies by `NetworkPolicy/<name>`)."""
    return {
        doc["kind"]
        if doc["kind"] != "NetworkPolicy"
        else f"NetworkPolicy/{doc['metadata']['name']}": doc
        for doc in objects(text)
        if doc["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway"
    }


def test_gateway_is_deployed_with_service_pdb_hpa_and_no_ingress_by_default(tools: Path) -> None:
    found = gateway_objects(render(tools))
    assert set(found) == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy/mp-modelport-gateway",
        "NetworkPolicy/mp-modelport-router-from-gateway",
    }
    deployment = found["Deployment"]
    assert deployment["spec"]["replicas"] == 2  # no autoscaler unless asked, like the router
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    assert container["args"] == ["serve", "gateway"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODELPORT_GATEWAY_ROUTER_ADDRESS"] == "mp-modelport-router.modelport.svc:50051"
    assert env["MODELPORT_GATEWAY_PORT"] == "8080"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    service = found["Service"]
    assert service["spec"]["ports"][0] == {
        "name": "http",
        "port": 8080,
        "targetPort": "http",
        "appProtocol": "http",
    }
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "gateway"
    to_router = found["NetworkPolicy/mp-modelport-router-from-gateway"]["spec"]
    assert to_router["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "router"
    assert to_router["ingress"][0]["ports"] == [{"port": "grpc"}]
    entry = found["NetworkPolicy/mp-modelport-gateway"]["spec"]
    assert entry["ingress"][0] == {"ports": [{"port": "http"}]}
    metrics = entry["ingress"][1]
    assert metrics["ports"] == [{"port": "metrics"}]
    assert metrics["from"][0]["namespaceSelector"]  # only from monitoring, by default


def test_gateway_ingress_tls_and_router_tls(tools: Path) -> None:
    found = gateway_objects(
        render(
            tools,
            "--set",
            "gateway.ingress.enabled=true",
            "--set",
            "gateway.ingress.host=models.example.com",
            "--set",
            "gateway.ingress.tlsSecretName=models-tls",
            "--set",
            "gateway.ingress.className=nginx",
            "--set",
            "security.tls.secretName=mp-tls",
        )
    )
    ingress = found["Ingress"]["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"secretName": "models-tls", "hosts": ["models.example.com"]}]
    rule = ingress["rules"][0]
    assert rule["host"] == "models.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "mp-modelport-gateway", "port": {"name": "http"}}
    annotations = found["Ingress"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    env = {
        e["name"]: e.get("value")
        for e in found["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["MODELPORT_GATEWAY_ROUTER_TLS_CA_FILE"] == "/etc/modelport/router-ca/ca.crt"
    pod = found["Deployment"]["spec"]["template"]["spec"]
    (router_ca,) = [v for v in pod["volumes"] if v["name"] == "router-ca"]
    assert router_ca["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_gateway_can_be_turned_off_or_autoscaled(tools: Path) -> None:
    assert gateway_objects(render(tools, "--set", "gateway.enabled=false")) == {}
    found = gateway_objects(
        render(
            tools,
            "--set",
            "gateway.autoscaling.enabled=true",
            "--set",
            "gateway.pdb.enabled=false",
        )
    )
    hpa = found["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "mp-modelport-gateway"
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert "replicas" not in found["Deployment"]["spec"]  # the HPA owns the count
    assert "PodDisruptionBudget" not in found


@pytest.mark.parametrize(
    "bad",
    [
        "gateway.replicas=2",
        "gateway.ingress.path=api",
        "gateway.maxBodyBytes=10",
        "gateway.pdb.minAvailable=1",
    ],
)
def test_schema_rejects_bad_gateway_values(tools: Path, bad: str) -> None:
    assert "gateway" in refused(tools, "--set", bad)


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_gateway_objects_validate_against_kubernetes(
    tools: Path, kube: str, tmp_path: Path
) -> None:
    rendered = tmp_path / "gateway.yaml"
    rendered.write_text(
        render(
            tools,
            "--set",
            "gateway.ingress.enabled=true",
            "--show-only",
            "templates/gateway.yaml",
            kube=kube,
        )
    )
    out = run(tools, "kubernetes-validate", "--strict", "-k", kube, str(rendered))
    assert out.returncode == 0, out.stdout + out.stderr
