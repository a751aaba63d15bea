"""The Helm chart and skaffold.yaml, proven with the real tools: helm lint and template,
kubernetes-validate (1.27 and 1.33), checkov, check-jsonschema; then assertions on the
rendered objects (GPU placement, probes, security, labels)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelport"
SKAFFOLD_SCHEMA = ROOT.parent / "shared" / "schemas" / "skaffold-v4beta13.json"
KUBE_VERSIONS = ("1.27.0", "1.33.0")
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def run(tools: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools / tool), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )


def render(tools: Path, *args: str, kube: str = "1.33.0") -> str:
    out = run(
        tools,
        "helm",
        "template",
        "mp",
        str(CHART),
        "-n",
        "modelport",
        "--kube-version",
        kube,
        *args,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module", params=["values-cpu.yaml", "values-gpu.yaml"])
def rendered(
    request: pytest.FixtureRequest, tools: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, list[dict[str, Any]]]:
    text = render(tools, "-f", str(CHART / request.param))
    path = tmp_path_factory.mktemp("rendered") / request.param
    path.write_text(text)
    return request.param, path, objects(text)


def test_helm_lint_strict(tools: Path) -> None:
    for values in ("values.yaml", "values-cpu.yaml", "values-gpu.yaml"):
        out = run(tools, "helm", "lint", "--strict", str(CHART), "-f", str(CHART / values))
        assert out.returncode == 0, out.stdout + out.stderr


def test_rendered_objects_validate_against_kubernetes(
    tools: Path, rendered: tuple[str, Path, list[dict[str, Any]]]
) -> None:
    _, path, _ = rendered
    for version in KUBE_VERSIONS:
        out = run(tools, "kubernetes-validate", "--strict", "--quiet", "-k", version, str(path))
        assert out.returncode == 0, f"{version}: {out.stdout}{out.stderr}"


def test_checkov_is_clean_with_justified_skips(
    tools: Path, rendered: tuple[str, Path, list[dict[str, Any]]]
) -> None:
    _, path, _ = rendered
    assert_checkov_clean(tools, path)


def assert_checkov_clean(tools: Path, path: Path) -> None:
    """checkov's kubernetes framework on rendered objects, with the chart's skips."""
    out = run(
        tools,
        "checkov",
        "--framework",
        "kubernetes",
        "-f",
        str(path),
        "--config-file",
        str(CHART / ".checkov.yaml"),
        "--compact",
        "--quiet",
        "--skip-download",
    )
    assert out.returncode == 0, out.stdout[-5000:]


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def test_gpu_only_where_asked(rendered: tuple[str, Path, list[dict[str, Any]]]) -> None:
    values, _, docs = rendered
    deployments = by_kind(docs, "Deployment")
    assert set(deployments) == {
        "mp-modelport-router",
        "mp-modelport-embedding",
        "mp-modelport-nlp",
        "mp-modelport-vision",
        "mp-modelport-gateway",  # HTTP: tests/charts/test_gateway_chart.py
    }
    wanted = {"mp-modelport-nlp": "nvidia.com/gpu", "mp-modelport-vision": "nvidia.com/mig-1g.10gb"}
    if values == "values-cpu.yaml":
        wanted = {}
    for name, deployment in deployments.items():
        spec = pod_spec(deployment)
        resources = spec["containers"][0]["resources"]
        gpu_keys = {k for part in resources.values() for k in part if "nvidia.com" in k}
        tolerations = spec.get("tolerations", [])
        selector = spec.get("nodeSelector", {})
        env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env", [])}
        if name in wanted:
            assert env["MODELPORT_DEFAULT_DEVICE"] == "cuda", name  # never silently on CPU
            assert resources["limits"][wanted[name]] == 1
            assert resources["requests"][wanted[name]] == 1
            assert GPU_TOLERATION in tolerations
            assert selector.get("nvidia.com/gpu.present") == "true"
        else:
            assert "MODELPORT_DEFAULT_DEVICE" not in env, name
            assert not gpu_keys, name
            assert GPU_TOLERATION not in tolerations, name
            assert "nvidia.com/gpu.present" not in selector, name


def test_probes_security_and_tokens(rendered: tuple[str, Path, list[dict[str, Any]]]) -> None:
    _, _, docs = rendered
    for name, deployment in by_kind(docs, "Deployment").items():
        if name.endswith("-gateway"):  # HTTP probes: tests/charts/test_gateway_chart.py
            continue
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        container = spec["containers"][0]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert container["livenessProbe"]["grpc"]["port"] == 8086
        assert container["readinessProbe"]["grpc"]["port"] == 8086
        router = name.endswith("-router")
        assert spec["automountServiceAccountToken"] is router
        if not router:
            startup = container["startupProbe"]
            assert startup["grpc"]["port"] == 8086
            assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


def test_labels_and_selectors(rendered: tuple[str, Path, list[dict[str, Any]]]) -> None:
    _, _, docs = rendered
    for doc in docs:
        labels = doc["metadata"]["labels"]
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/managed-by",
            "app.kubernetes.io/part-of",
            "helm.sh/chart",
        ):
            assert key in labels, (doc["kind"], doc["metadata"]["name"], key)
        assert doc["metadata"]["namespace"] == "modelport"
    for deployment in by_kind(docs, "Deployment").values():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert set(selector) == {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }
    services = by_kind(docs, "Service")
    for name in ("mp-modelport-embedding", "mp-modelport-nlp", "mp-modelport-vision"):
        assert services[name]["spec"]["clusterIP"] == "None"  # per-request balancing
        assert services[name]["metadata"]["labels"]["modelport.dev/backend"] == "true"
    assert "clusterIP" not in services["mp-modelport-router"]["spec"]


def test_only_the_router_reaches_backends(rendered: tuple[str, Path, list[dict[str, Any]]]) -> None:
    _, _, docs = rendered
    policies = by_kind(docs, "NetworkPolicy")
    nlp = policies["mp-modelport-nlp"]["spec"]["ingress"]
    grpc_rule = next(rule for rule in nlp if rule["ports"] == [{"port": "grpc"}])
    assert grpc_rule["from"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "modelport",
                    "app.kubernetes.io/instance": "mp",
                    "app.kubernetes.io/component": "router",
                }
            }
        }
    ]


def test_schema_rejects_a_typo(tools: Path) -> None:
    out = run(tools, "helm", "template", "mp", str(CHART), "--set", "backends.nlp.gpuu.count=1")
    assert out.returncode != 0
    assert "gpuu" in out.stderr


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("runtime", "hf-causl-lm", "runtime"),
        ("max_context", "512", "max_context"),
    ],
)
def test_schema_rejects_a_model_spec_typo(tools: Path, key: str, value: str, named: str) -> None:
    models = "backends.nlp.models[0]"
    out = run(
        tools,
        "helm",
        "template",
        "mp",
        str(CHART),
        "--set",
        f"{models}.name=gen",
        "--set",
        f"{models}.runtime=hf-causal-lm",
        "--set",
        f"{models}.path=/models/gen",
        "--set",
        f"{models}.{key}={value}",
    )
    assert out.returncode != 0
    assert named in out.stderr


def test_models_reach_the_pods(tools: Path) -> None:
    docs = objects(
        render(
            tools,
            "--set",
            "backends.embedding.models[0].name=e5",
            "--set",
            "backends.embedding.models[0].runtime=sentence-embedding",
            "--set",
            "backends.embedding.models[0].path=/models/e5",
        )
    )
    models = yaml.safe_load(
        by_kind(docs, "ConfigMap")["mp-modelport-embedding-models"]["data"]["models.yaml"]
    )
    assert models["models"][0]["name"] == "e5"
    env = {
        e["name"]: e.get("value")
        for e in pod_spec(by_kind(docs, "Deployment")["mp-modelport-embedding"])["containers"][0][
            "env"
        ]
    }
    assert env["MODELPORT_MODELS_FILE"] == "/etc/modelport/models.yaml"
    assert env["MODELPORT_ADVERTISE_ADDRESS"] == "$(POD_IP):50051"


def e5_on_demand(load: str) -> list[str]:
    """`--set` arguments of an embedding model e5 with `load: <load>`."""
    spec = {"name": "e5", "runtime": "sentence-embedding", "path": "/models/e5", "load": load}
    return [a for k, v in spec.items() for a in ("--set", f"backends.embedding.models[0].{k}={v}")]


def test_a_memory_budget_and_an_on_demand_catalogue_reach_the_pods(tools: Path) -> None:
    docs = objects(
        render(
            tools,
            "--set",
            "backends.embedding.memoryBudget=3GiB",
            *e5_on_demand("on_demand"),
            "--set",
            "backends.embedding.models[0].size_bytes=500MiB",
        )
    )
    deployments = by_kind(docs, "Deployment")
    assert container_env(deployments["mp-modelport-embedding"])["MODELPORT_MEMORY_BUDGET"] == "3GiB"
    assert "MODELPORT_MEMORY_BUDGET" not in container_env(deployments["mp-modelport-nlp"])
    models = yaml.safe_load(
        by_kind(docs, "ConfigMap")["mp-modelport-embedding-models"]["data"]["models.yaml"]
    )
    assert models["models"][0]["load"] == "on_demand"
    for wrong, named in (
        (["--set", "backends.nlp.memoryBudget=lots"], "memoryBudget"),
        (e5_on_demand("lazily"), "load"),
    ):
        refused = run(tools, "helm", "template", "mp", str(CHART), *wrong)
        assert refused.returncode != 0
        assert named in refused.stderr


def test_skaffold_config_matches_its_schema(tools: Path) -> None:
    assert SKAFFOLD_SCHEMA.exists(), f"{SKAFFOLD_SCHEMA} is missing (../shared beside the repo)"
    out = run(
        tools, "check-jsonschema", "--schemafile", str(SKAFFOLD_SCHEMA), str(ROOT / "skaffold.yaml")
    )
    assert out.returncode == 0, out.stdout + out.stderr
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert {p["name"] for p in config["profiles"]} == {"cpu", "gpu", "dev"}
    assert [a["docker"]["target"] for a in config["build"]["artifacts"]] == ["router", "inference"]


def test_every_value_is_documented_and_the_readme_table_is_fresh() -> None:
    import re
    import sys

    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart_values_table.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    documented = set(re.findall(r"^\| `([^`]+)` \|", (CHART / "README.md").read_text(), re.M))

    def leaves(node: Any, path: str = "") -> Iterator[str]:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                yield from leaves(value, f"{path}.{key}" if path else key)
        else:
            yield path

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [
        leaf
        for leaf in leaves(values)
        if not any(leaf == d or leaf.startswith(d + ".") for d in documented)
    ]
    assert not missing, f"values without a `# --` comment: {missing}"


def test_tls_auth_and_tracing_values_reference_secrets(tools: Path, tmp_path: Path) -> None:
    text = render(
        tools,
        "--set",
        "security.tls.secretName=mp-tls",
        "--set",
        "security.auth.tokensSecret=mp-tokens",
        "--set",
        "security.rateLimitPerSecond=50",
        "--set",
        "observability.otlpEndpoint=otel-collector.monitoring:4317",
    )
    (tmp_path / "secure.yaml").write_text(text)
    for version in KUBE_VERSIONS:
        out = run(
            tools,
            "kubernetes-validate",
            "--strict",
            "--quiet",
            "-k",
            version,
            str(tmp_path / "secure.yaml"),
        )
        assert out.returncode == 0, out.stdout + out.stderr
    docs = objects(text)
    # referenced, never inlined; the one Secret is the router's token the chart made
    assert set(by_kind(docs, "Secret")) == {"mp-modelport-router-token"}
    deployments = by_kind(docs, "Deployment")

    def env(name: str) -> dict[str, str | None]:
        container = pod_spec(deployments[name])["containers"][0]
        return {e["name"]: e.get("value") for e in container["env"]}

    def secrets(name: str) -> set[str]:
        return {
            v["secret"]["secretName"]
            for v in pod_spec(deployments[name])["volumes"]
            if "secret" in v
        }

    router = env("mp-modelport-router")
    assert router["MODELPORT_AUTH_TOKENS_FILE"] == "/etc/modelport/auth/tokens.yaml"
    assert router["MODELPORT_RATE_LIMIT_PER_S"] == "50"
    assert router["MODELPORT_BACKEND_TLS_CA_FILE"] == "/etc/modelport/tls/ca.crt"
    assert router["MODELPORT_BACKEND_TLS_SERVER_NAME"] == "mp-modelport-backend"
    assert router["MODELPORT_OTLP_ENDPOINT"] == "otel-collector.monitoring:4317"
    assert secrets("mp-modelport-router") == {"mp-tls", "mp-tokens", "mp-modelport-router-token"}
    nlp = env("mp-modelport-nlp")
    assert nlp["MODELPORT_TLS_CLIENT_CA_FILE"] == "/etc/modelport/tls/ca.crt"
    assert nlp["MODELPORT_HEALTH_PORT"] == "8086"  # probes stay plaintext beside TLS
    assert "MODELPORT_AUTH_TOKENS_FILE" not in nlp  # client tokens are the router's
    assert nlp["MODELPORT_AUTH_ROUTER_TOKEN_FILE"] == "/etc/modelport/router-token/token"
    assert secrets("mp-modelport-nlp") == {"mp-tls", "mp-modelport-router-token"}


def container_env(deployment: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in pod_spec(deployment)["containers"][0]["env"]}


def mounted_file(deployment: dict[str, Any], path: str) -> tuple[str, str]:
    """(Secret name, key) that the file at `path` of a pod's container comes from."""
    spec = pod_spec(deployment)
    mounts = [
        m
        for m in spec["containers"][0]["volumeMounts"]
        if path.startswith(m["mountPath"].rstrip("/") + "/")
    ]
    assert mounts, f"nothing is mounted at {path}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))  # the innermost mount wins
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    key = path[len(mount["mountPath"].rstrip("/")) + 1 :]
    items = volume["secret"].get("items")
    if items:
        key = next(i["key"] for i in items if i["path"] == key)
    return volume["secret"]["secretName"], key


def test_the_default_install_is_authenticated_from_router_to_backends(tools: Path) -> None:
    """Issue 21, H1: without any value set, the router presents a token the chart made,
    every backend requires it (and nothing else), and the router takes no registrations;
    an existing Secret can replace the generated one."""
    import base64

    docs = objects(render(tools))
    secrets = by_kind(docs, "Secret")
    assert set(secrets) == {"mp-modelport-router-token", "mp-modelport-tokens"}
    token = base64.b64decode(secrets["mp-modelport-router-token"]["data"]["token"]).decode()
    assert len(token) >= 32
    assert token.isalnum()
    deployments = by_kind(docs, "Deployment")
    router = container_env(deployments["mp-modelport-router"])
    assert router["MODELPORT_ALLOW_REGISTRATION"] == "false"
    sent = mounted_file(deployments["mp-modelport-router"], router["MODELPORT_BACKEND_TOKEN_FILE"])  # type: ignore[arg-type]
    assert sent == ("mp-modelport-router-token", "token")
    clients = mounted_file(deployments["mp-modelport-router"], router["MODELPORT_AUTH_TOKENS_FILE"])  # type: ignore[arg-type]
    assert clients == ("mp-modelport-tokens", "tokens.yaml")  # clients need tokens too
    for name in ("mp-modelport-embedding", "mp-modelport-nlp", "mp-modelport-vision"):
        backend = container_env(deployments[name])
        accepted = mounted_file(deployments[name], backend["MODELPORT_AUTH_ROUTER_TOKEN_FILE"])  # type: ignore[arg-type]
        assert accepted == sent, name
        assert "MODELPORT_AUTH_TOKENS_FILE" not in backend  # only the router gets in

    docs = objects(
        render(
            tools,
            "--set",
            "security.auth.routerTokenSecret=vault-router-token",
            "--set",
            "security.auth.tokensSecret=mp-tokens",
            "--set",
            "security.auth.backendsAcceptClientTokens=true",
            "--set",
            "router.allowRegistration=true",
        )
    )
    assert not by_kind(docs, "Secret")
    deployments = by_kind(docs, "Deployment")
    router = container_env(deployments["mp-modelport-router"])
    assert router["MODELPORT_ALLOW_REGISTRATION"] == "true"
    assert mounted_file(
        deployments["mp-modelport-router"],
        router["MODELPORT_BACKEND_TOKEN_FILE"],  # type: ignore[arg-type]
    ) == ("vault-router-token", "token")
    nlp = container_env(deployments["mp-modelport-nlp"])
    assert mounted_file(
        deployments["mp-modelport-nlp"],
        nlp["MODELPORT_AUTH_ROUTER_TOKEN_FILE"],  # type: ignore[arg-type]
    ) == ("vault-router-token", "token")
    assert mounted_file(
        deployments["mp-modelport-nlp"],
        nlp["MODELPORT_AUTH_TOKENS_FILE"],  # type: ignore[arg-type]
    ) == ("mp-tokens", "client-tokens.yaml")
