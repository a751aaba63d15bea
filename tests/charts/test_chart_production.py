"""The chart on a production GPU cluster (issue 19) and authenticated by default (issue
21), proven on rendered output: autoscaling on queue depth with no `replicas` field for
helm upgrade to reset, rollouts and drains that cannot deadlock, weights made once, router
state from values, Guaranteed GPU pods with threads from the CPU limit, certificates and
tokens, escape hatches, network policy, the dev loop."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from modelport.serving.settings import TlsIdentity
from tests.charts.test_chart import (
    CHART,
    KUBE_VERSIONS,
    ROOT,
    by_kind,
    container_env,
    mounted_file,
    objects,
    pod_spec,
    render,
    run,
)

Docs = list[dict[str, Any]]
BACKENDS = ("mp-modelport-embedding", "mp-modelport-nlp", "mp-modelport-vision")


def refused(tools: Path, *args: str) -> str:
    """helm's error for values the chart must refuse (the test fails if it renders)."""
    out = run(tools, "helm", "template", "mp", str(CHART), "-n", "modelport", *args)
    assert out.returncode != 0, f"rendered: {args}"
    return out.stderr


def sets(**values: object) -> list[str]:
    out: list[str] = []
    for key, value in values.items():
        out += ["--set-json", f"{key.replace('__', '.')}={json.dumps(value)}"]
    return out


def validate(tools: Path, tmp_path: Path, text: str) -> None:
    path = tmp_path / "render.yaml"
    path.write_text(text)
    for version in KUBE_VERSIONS:
        out = run(tools, "kubernetes-validate", "--strict", "--quiet", "-k", version, str(path))
        assert out.returncode == 0, f"{version}: {out.stdout}{out.stderr}"


def gpu_render(tools: Path, *args: str) -> Docs:
    return objects(render(tools, "-f", str(CHART / "values-gpu.yaml"), *args))


# -- 1. autoscaling ---------------------------------------------------------------------
@pytest.mark.parametrize("upgrade", [False, True])
def test_gpu_backends_scale_on_queue_depth_and_no_replicas_field_is_left_to_reset(
    tools: Path, upgrade: bool
) -> None:
    """values-gpu.yaml: nlp and vision (GPUs) get KEDA ScaledObjects on the waiting-work
    gauge, embedding (CPU) a CPU HPA; no autoscaled Deployment has `replicas`, in an
    install render and in an upgrade render (`--is-upgrade`): helm's three-way merge
    then has no replica count to set back over the autoscaler's."""
    docs = gpu_render(tools, *(["--is-upgrade"] if upgrade else []))
    scaled = by_kind(docs, "ScaledObject")
    assert set(scaled) == {"mp-modelport-nlp", "mp-modelport-vision"}
    for name, scaler in scaled.items():
        trigger = scaler["spec"]["triggers"][0]
        assert trigger["type"] == "prometheus"
        query = trigger["metadata"]["query"]
        assert query.startswith("sum(modelport_queue_depth{")
        assert 'namespace="modelport"' in query
        pod = re.search(r'pod=~"([^"]+)"', query)
        assert pod is not None
        assert re.fullmatch(pod.group(1), f"{name}-7d9f8c6b5-x2x4q")
        assert not re.fullmatch(pod.group(1), f"{name}-extra-7d9f8c6b5-x2x4q")
        assert trigger["metadata"]["threshold"] == "32"
        assert scaler["spec"]["scaleTargetRef"]["name"] == name
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    assert set(hpas) == {"mp-modelport-embedding"}
    assert hpas["mp-modelport-embedding"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    deployments = by_kind(docs, "Deployment")
    for name in BACKENDS:
        assert "replicas" not in deployments[name]["spec"], name
    assert deployments["mp-modelport-router"]["spec"]["replicas"] == 2  # no autoscaler
    assert by_kind(docs, "ServiceMonitor")  # the scrape the query relies on


def test_the_scaled_gauge_counts_waiting_generations() -> None:
    """The gauge the chart's scalers query is the app's one gauge of waiting work, batch
    queues and generations waiting for a decoding slot alike (tests/unit/test_decoding
    proves the decoding loop sets it)."""
    from modelport.inference.metrics import InferenceMetrics

    gauge = InferenceMetrics().queue_depth
    assert gauge._name == "modelport_queue_depth"
    assert "generations waiting" in gauge._documentation
    query_source = (CHART / "templates" / "backends.yaml").read_text()
    assert "sum(modelport_queue_depth{" in query_source
    assert "name: modelport_queue_depth" in query_source  # the HPA's Pods metric


def test_queue_scaling_through_an_hpa_on_the_pods_metric(tools: Path) -> None:
    docs = gpu_render(tools, "--set", "queueAutoscaler.type=hpa")
    assert not by_kind(docs, "ScaledObject")
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    metric = hpas["mp-modelport-nlp"]["spec"]["metrics"][0]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == "modelport_queue_depth"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "32"}
    assert hpas["mp-modelport-embedding"]["spec"]["metrics"][0]["type"] == "Resource"


def test_autoscaling_off_means_no_autoscaler_and_a_replica_count(tools: Path) -> None:
    docs = gpu_render(
        tools,
        "--set",
        "backendDefaults.autoscaling.enabled=false",
        "--set",
        "backends.nlp.replicaCount=3",
    )
    assert not by_kind(docs, "ScaledObject")
    assert not by_kind(docs, "HorizontalPodAutoscaler")
    deployments = by_kind(docs, "Deployment")
    assert deployments["mp-modelport-nlp"]["spec"]["replicas"] == 3
    assert deployments["mp-modelport-vision"]["spec"]["replicas"] == 1
    one_off = gpu_render(tools, "--set", "backends.vision.autoscaling.enabled=false")
    assert set(by_kind(one_off, "ScaledObject")) == {"mp-modelport-nlp"}
    assert by_kind(one_off, "Deployment")["mp-modelport-vision"]["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    "values",
    [
        ["-f", str(CHART / "values-gpu.yaml"), "--set", "metrics.serviceMonitor.enabled=false"],
        ["--set", "backendDefaults.autoscaling.metric=queue"],
        ["--set", "backends.nlp.gpu.count=1"],
        ["--set", "backends.vision.autoscaling.metric=queue"],
    ],
)
def test_the_schema_refuses_queue_scaling_without_a_scrape(tools: Path, values: list[str]) -> None:
    error = refused(tools, *values)
    assert "metrics.serviceMonitor.enabled" in error


def test_the_templates_refuse_queue_scaling_without_a_scrape_even_without_the_schema(
    tools: Path,
) -> None:
    error = refused(tools, "--skip-schema-validation", "--set", "backends.nlp.gpu.count=1")
    assert "backends.nlp scales on queue depth" in error
    assert "metrics.serviceMonitor.enabled" in error


@pytest.mark.parametrize(
    "values",
    [
        ["--set", "backends.nlp.gpu.count=1", "--set", "backends.nlp.autoscaling.metric=cpu"],
        ["--set", "backends.nlp.gpu.count=1", "--set", "backendDefaults.autoscaling.metric=cpu"],
        ["--set", "backends.nlp.gpu.count=1", "--set", "backends.nlp.autoscaling.enabled=false"],
        ["--set", "backends.nlp.gpu.count=1", "--set", "backends.nlp.enabled=false"],
    ],
)
def test_a_gpu_backend_without_queue_scaling_needs_no_scrape(
    tools: Path, values: list[str]
) -> None:
    assert not by_kind(objects(render(tools, *values)), "ScaledObject")


def test_scrape_annotations_are_a_scrape_too(tools: Path) -> None:
    docs = objects(
        render(
            tools, "--set", "backends.nlp.gpu.count=1", "--set", "metrics.scrapeAnnotations=true"
        )
    )
    assert set(by_kind(docs, "ScaledObject")) == {"mp-modelport-nlp"}
    for deployment in by_kind(docs, "Deployment").values():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == "9090"


# -- 2. rollouts and drains --------------------------------------------------------------
def test_drains_and_rollouts_never_need_a_spare_gpu(tools: Path) -> None:
    docs = gpu_render(tools)
    for name, pdb in by_kind(docs, "PodDisruptionBudget").items():
        assert pdb["spec"] == {
            "maxUnavailable": 1,
            "selector": pdb["spec"]["selector"],
        }, name  # one disruption allowed, whatever the replica count
    deployments = by_kind(docs, "Deployment")
    for name in ("mp-modelport-nlp", "mp-modelport-vision"):
        assert deployments[name]["spec"]["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
        }
    assert "strategy" not in deployments["mp-modelport-embedding"]["spec"]  # CPU: default
    custom = gpu_render(
        tools,
        *sets(backends__nlp__strategy={"type": "Recreate"}, router__strategy={"type": "Recreate"}),
    )
    assert by_kind(custom, "Deployment")["mp-modelport-nlp"]["spec"]["strategy"] == {
        "type": "Recreate"
    }
    assert by_kind(custom, "Deployment")["mp-modelport-router"]["spec"]["strategy"] == {
        "type": "Recreate"
    }


def test_pods_spread_over_zones_and_nodes_and_may_get_a_priority_class(tools: Path) -> None:
    docs = gpu_render(tools, "--set", "priorityClass.create=true")
    for name, deployment in by_kind(docs, "Deployment").items():
        spread = pod_spec(deployment)["topologySpreadConstraints"]
        component = deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        assert [c["topologyKey"] for c in spread] == [
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        ], name
        for constraint in spread:
            assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
            labels = constraint["labelSelector"]["matchLabels"]
            assert labels["app.kubernetes.io/component"] == component
        priority = pod_spec(deployment).get("priorityClassName")
        assert priority == (None if name.endswith("-router") else "mp-modelport-serving")
    (priority_class,) = by_kind(docs, "PriorityClass").values()
    assert priority_class["value"] == 100000
    assert priority_class["globalDefault"] is False
    own = [
        {
            "maxSkew": 2,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"a": "b"}},
        }
    ]
    docs = objects(
        render(
            tools,
            *sets(backendDefaults__topologySpreadConstraints=own),
            "--set",
            "router.defaultTopologySpread=false",
        )
    )
    deployments = by_kind(docs, "Deployment")
    assert pod_spec(deployments["mp-modelport-nlp"])["topologySpreadConstraints"] == own
    assert "topologySpreadConstraints" not in pod_spec(deployments["mp-modelport-router"])


# -- 4. weights and caches ---------------------------------------------------------------
def writable_mounts(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """mountPath -> volume of the container's writable mounts."""
    spec = pod_spec(deployment)
    volumes = {v["name"]: v for v in spec["volumes"]}
    return {
        m["mountPath"]: volumes[m["name"]]
        for m in spec["containers"][0]["volumeMounts"]
        if not m.get("readOnly")
    }


def test_caches_are_writable_bounded_and_accounted_for(tools: Path) -> None:
    docs = gpu_render(tools)
    for name in BACKENDS:
        deployment = by_kind(docs, "Deployment")[name]
        env = container_env(deployment)
        mounts = writable_mounts(deployment)
        for variable in ("MODELPORT_CACHE_DIR", "HF_HOME", "XDG_CACHE_HOME", "HOME"):
            path = env[variable]
            assert path is not None
            mount = max((m for m in mounts if path == m or path.startswith(m + "/")), key=len)
            assert mounts[mount]["emptyDir"]["sizeLimit"], (name, variable)
        for volume in pod_spec(deployment)["volumes"]:
            assert "hostPath" not in volume
            if "emptyDir" in volume:
                assert volume["emptyDir"].get("sizeLimit"), (name, volume["name"])
        resources = pod_spec(deployment)["containers"][0]["resources"]
        assert resources["requests"]["ephemeral-storage"]
        assert resources["limits"]["ephemeral-storage"]


def test_host_path_only_when_chosen(tools: Path) -> None:
    host = [
        "--set",
        "backendDefaults.modelVolume.type=hostPath",
        "--set",
        "backendDefaults.modelVolume.hostPath=/srv/models",
    ]
    assert "allowHostPath" in refused(tools, *host)
    docs = objects(render(tools, *host, "--set", "backendDefaults.modelVolume.allowHostPath=true"))
    volumes = pod_spec(by_kind(docs, "Deployment")["mp-modelport-nlp"])["volumes"]
    assert {"name": "models", "hostPath": {"path": "/srv/models", "type": "Directory"}} in volumes


def test_weights_are_prepared_once_into_a_shared_cache(tools: Path, tmp_path: Path) -> None:
    """modelCache.create: a kept PVC; per backend a Job loads the models once with
    MODELPORT_PREPARE_ONLY (tests/integration/test_prepare.py: the app fills the cache and
    exits) and writes the mark the backend's init container waits for; backends mount the
    cache read-only, so no pod converts anything at start. A new model config is a new
    Job with a new mark."""
    text = render(tools, "-f", str(CHART / "values-gpu.yaml"), "--set", "modelCache.create=true")
    validate(tools, tmp_path, text)
    docs = objects(text)
    (claim,) = by_kind(docs, "PersistentVolumeClaim").values()
    assert claim["metadata"]["name"] == "mp-modelport-model-cache"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    jobs = by_kind(docs, "Job")
    assert len(jobs) == 3
    for name in BACKENDS:
        component = name.rsplit("-", 1)[1]
        (job,) = [j for n, j in jobs.items() if n.startswith(f"{name}-prepare-")]
        job_spec = pod_spec(job)
        env = container_env(job)
        assert env["MODELPORT_PREPARE_ONLY"] == "true"
        assert env["MODELPORT_CACHE_DIR"] == "/cache"
        assert job_spec["containers"][0]["command"][:2] == ["sh", "-c"]
        script = job_spec["containers"][0]["command"][2]
        assert script.startswith(f"modelport serve {component} && touch ")
        mark = script.rsplit(" ", 1)[1]
        assert mark.startswith(f"/cache/.prepared-{component}-")
        assert "nvidia.com/gpu" not in json.dumps(job_spec)  # conversion needs no GPU
        assert {
            "name": "cache",
            "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
        } in job_spec["volumes"]
        deployment = by_kind(docs, "Deployment")[name]
        (wait,) = pod_spec(deployment)["initContainers"]
        assert f"[ -f {mark} ]" in wait["command"][2]
        assert "/cache" not in writable_mounts(deployment)
        cache = next(v for v in pod_spec(deployment)["volumes"] if v["name"] == "cache")
        assert cache["persistentVolumeClaim"] == {
            "claimName": claim["metadata"]["name"],
            "readOnly": True,
        }
    changed = objects(
        render(
            tools,
            "--set",
            "modelCache.create=true",
            *sets(
                backends__nlp__models=[
                    {"name": "s", "runtime": "hf-sequence-classification", "path": "/models/s"}
                ]
            ),
        )
    )
    before = {n for n in jobs if "-nlp-" in n}
    after = {n for n in by_kind(changed, "Job") if "-nlp-" in n}
    assert before
    assert after
    assert before != after


# -- 5. router state ---------------------------------------------------------------------
def test_router_state_comes_from_values_and_reads_as_the_router_reads_it(
    tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Splits and outside replicas are part of the router's pod spec: every replica and
    every restart has them (tests/integration/test_router_in_process.py: two routers
    with one configuration route alike, a restart keeps it); runtime splits are off."""
    from modelport.router.settings import RouterSettings

    splits = {"gemma-3-270m": {"1": 90, "2": 10}}
    static = [{"name": "ext", "version": "1", "task": "embedding", "endpoint": "10.0.0.7:50051"}]
    docs = objects(
        render(tools, *sets(router__trafficSplits=splits, router__staticReplicas=static))
    )
    env = container_env(by_kind(docs, "Deployment")["mp-modelport-router"])
    for name in (
        "MODELPORT_TRAFFIC_SPLITS",
        "MODELPORT_STATIC_REPLICAS",
        "MODELPORT_ALLOW_RUNTIME_SPLITS",
    ):
        monkeypatch.setenv(name, env[name] or "")
    settings = RouterSettings()
    assert settings.traffic_splits == splits
    assert [r.model_dump() for r in settings.static_replicas] == static
    assert settings.allow_runtime_splits is False
    bad = sets(router__trafficSplits={"m": {"1": -1}})
    assert "trafficSplits" in refused(tools, *bad)


# -- 6. resources, threads, probes --------------------------------------------------------
def kubelet_value(deployment: dict[str, Any], source: dict[str, Any]) -> str:
    """What the kubelet puts in an env var from `resourceFieldRef` limits.cpu: the limit
    divided by the divisor, rounded up."""
    field = source["resourceFieldRef"]
    assert field["resource"] == "limits.cpu"
    limit = pod_spec(deployment)["containers"][0]["resources"]["limits"]["cpu"]
    cores = int(limit[:-1]) / 1000 if str(limit).endswith("m") else float(limit)
    return str(math.ceil(cores / float(field.get("divisor", "1"))))


def test_gpu_pods_are_guaranteed_and_threads_follow_the_cpu_limit(tools: Path) -> None:
    docs = gpu_render(tools)
    deployments = by_kind(docs, "Deployment")
    for name in ("mp-modelport-nlp", "mp-modelport-vision"):
        resources = pod_spec(deployments[name])["containers"][0]["resources"]
        for resource in ("cpu", "memory"):
            assert resources["requests"][resource] == resources["limits"][resource], name
        assert str(resources["limits"]["cpu"]).isdigit()  # integer CPUs: pinnable
    for name in BACKENDS:
        container = pod_spec(deployments[name])["containers"][0]
        sources = {e["name"]: e for e in container["env"]}
        for variable in ("MODELPORT_TORCH_THREADS", "OMP_NUM_THREADS"):
            assert "value" not in sources[variable]
            assert sources[variable]["valueFrom"]["resourceFieldRef"]["resource"] == "limits.cpu"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["timeoutSeconds"] == 5, (name, probe)
    router = pod_spec(deployments["mp-modelport-router"])["containers"][0]
    assert (
        router["livenessProbe"]["timeoutSeconds"] == router["readinessProbe"]["timeoutSeconds"] == 5
    )
    fixed = gpu_render(tools, "--set", "backends.nlp.torchThreads=3")
    env = container_env(by_kind(fixed, "Deployment")["mp-modelport-nlp"])
    assert env["MODELPORT_TORCH_THREADS"] == env["OMP_NUM_THREADS"] == "3"


def test_torch_runs_as_many_threads_as_the_cpu_limit_the_kubelet_passes(tools: Path) -> None:
    """The chain end to end: the value the kubelet derives from the rendered env (the
    embedding pod's CPU limit of 2 in values-cpu.yaml, with torchThreads unset) read by
    the service's settings sets torch's intra-op threads in a fresh process."""
    docs = objects(render(tools, "-f", str(CHART / "values-cpu.yaml")))
    deployment = by_kind(docs, "Deployment")["mp-modelport-embedding"]
    sources = {e["name"]: e for e in pod_spec(deployment)["containers"][0]["env"]}
    threads = kubelet_value(deployment, sources["MODELPORT_TORCH_THREADS"]["valueFrom"])
    assert threads == "2"
    code = (
        "from modelport.embedding.settings import EmbeddingSettings;"
        "from modelport.ml.device import configure_threads;"
        "import torch;"
        "configure_threads(EmbeddingSettings().torch_threads);"
        "print(torch.get_num_threads())"
    )
    env = {**os.environ, "MODELPORT_TORCH_THREADS": threads, "OMP_NUM_THREADS": "7"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "2"


# -- 7. certificates and secrets -----------------------------------------------------------
def test_the_default_install_generates_client_tokens_kept_across_upgrades(tools: Path) -> None:
    """Issue 21: with no value set the router requires tokens: the chart makes an admin
    and a client token, in the layout the router reads, kept by helm on uninstall; the
    rate limit is on for them."""
    from modelport.serving.auth import load_tokens

    docs = objects(render(tools, "--set", "security.rateLimitPerSecond=50"))
    secrets = by_kind(docs, "Secret")
    tokens = secrets["mp-modelport-tokens"]
    for secret in (tokens, secrets["mp-modelport-router-token"]):
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    data = {k: base64.b64decode(v).decode() for k, v in tokens["data"].items()}
    assert len(data["admin-token"]) >= 32
    assert data["admin-token"] != data["client-token"]
    router = container_env(by_kind(docs, "Deployment")["mp-modelport-router"])
    assert router["MODELPORT_RATE_LIMIT_PER_S"] == "50"
    assert router["MODELPORT_AUTH_TOKENS_FILE"] == "/etc/modelport/auth/tokens.yaml"
    table = load_tokens_text(data["tokens.yaml"], load_tokens)
    assert table[data["admin-token"]] == ("admin", "admin")
    assert table[data["client-token"]] == ("client", "client")
    assert load_tokens_text(data["client-tokens.yaml"], load_tokens) == {
        data["client-token"]: ("client", "client")
    }
    # Backends taking client tokens get that file: never an admin token, so load and
    # unload at a backend stay the router's.
    docs = objects(render(tools, "--set", "security.auth.backendsAcceptClientTokens=true"))
    nlp = by_kind(docs, "Deployment")["mp-modelport-nlp"]
    accepted = mounted_file(nlp, container_env(nlp)["MODELPORT_AUTH_TOKENS_FILE"])  # type: ignore[arg-type]
    assert accepted == ("mp-modelport-tokens", "client-tokens.yaml")


def load_tokens_text(text: str, load_tokens: Any) -> dict[str, tuple[str, str]]:
    """token -> (identity, role), read by the router's own loader."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokens.yaml"
        path.write_text(text)
        principals = load_tokens(path)
    return {token: (p.identity, p.role) for token, p in principals.items()}


def test_a_rate_limit_without_auth_is_refused_and_auth_off_is_explicit(tools: Path) -> None:
    error = refused(
        tools, "--set", "security.auth.enabled=false", "--set", "security.rateLimitPerSecond=5"
    )
    assert "security.rateLimitPerSecond" in error
    docs = objects(render(tools, "--set", "security.auth.enabled=false"))
    assert set(by_kind(docs, "Secret")) == {"mp-modelport-router-token"}
    router = container_env(by_kind(docs, "Deployment")["mp-modelport-router"])
    assert "MODELPORT_AUTH_TOKENS_FILE" not in router
    for name in BACKENDS:  # backends still take only the router's token
        env = container_env(by_kind(docs, "Deployment")[name])
        assert env["MODELPORT_AUTH_ROUTER_TOKEN_FILE"] == "/etc/modelport/router-token/token"


def test_router_and_backends_have_separate_keypairs_and_reloader_rolls_them(tools: Path) -> None:
    docs = objects(
        render(
            tools,
            "--set",
            "security.tls.secretName=backend-tls",
            "--set",
            "security.tls.routerSecretName=router-tls",
            "--set",
            "security.reloader=true",
        )
    )
    deployments = by_kind(docs, "Deployment")
    router = deployments["mp-modelport-router"]
    assert mounted_file(router, "/etc/modelport/tls/tls.crt") == ("router-tls", "tls.crt")
    assert container_env(router)["MODELPORT_BACKEND_TLS_CERT_FILE"] == "/etc/modelport/tls/tls.crt"
    reload = router["spec"]["template"]["metadata"]["annotations"][
        "secret.reloader.stakater.com/reload"
    ]
    assert set(reload.split(",")) == {
        "mp-modelport-router-token",
        "mp-modelport-tokens",
        "router-tls",
    }
    for name in BACKENDS:
        assert mounted_file(deployments[name], "/etc/modelport/tls/tls.crt") == (
            "backend-tls",
            "tls.crt",
        )
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert set(annotations["secret.reloader.stakater.com/reload"].split(",")) == {
            "mp-modelport-router-token",
            "backend-tls",
        }
    assert "security.tls.secretName" in refused(tools, "--set", "security.tls.routerSecretName=x")


def render_notes(
    tools: Path, tmp_path: Path, release: str, *args: str
) -> tuple[str, list[dict[str, Any]]]:
    """NOTES.txt (which `helm template` does not print) rendered through a copy of the
    chart that wraps it in a ConfigMap, and the release's other objects."""
    chart = tmp_path / "modelport"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "notes-as-configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
        + "".join(f"    {line}\n" for line in notes.splitlines())
    )
    out = run(tools, "helm", "template", release, str(chart), "-n", "mp", *args)
    assert out.returncode == 0, out.stderr
    docs = objects(out.stdout)
    text: str = by_kind(docs, "ConfigMap")["notes"]["data"]["notes"]
    return text, docs


@pytest.mark.parametrize(
    ("release", "expected"),
    [("modelport", "modelport-backend"), ("prod", "prod-modelport-backend")],
)
def test_notes_name_the_certificate_the_router_checks(
    tools: Path, tmp_path: Path, release: str, expected: str
) -> None:
    """The name NOTES.txt asks for is the one the router verifies, for a release whose
    name contains the chart's and for one whose does not."""
    text, docs = render_notes(tools, tmp_path, release, "--set", "security.tls.secretName=t")
    named = re.search(r"must name\s+(\S+)", text)
    assert named is not None
    assert named.group(1) == expected
    router = by_kind(docs, "Deployment")[f"{expected.removesuffix('-backend')}-router"]
    assert container_env(router)["MODELPORT_BACKEND_TLS_SERVER_NAME"] == expected
    assert "client-token" in text  # how to get a token
    assert "router's own certificate must name" not in text  # it shares the backends' keypair
    for name in ("embedding", "nlp", "vision"):
        backend = container_env(by_kind(docs, "Deployment")[f"{fullname(release)}-{name}"])
        assert "MODELPORT_AUTH_TLS_IDENTITIES" not in backend  # no name tells it apart


def test_notes_tell_http_clients_where_the_gateway_is(tools: Path, tmp_path: Path) -> None:
    """The gateway's in-cluster URL and port-forward in NOTES.txt name the Service and
    port the chart renders; the Ingress URL when it has a host; nothing when it is off."""
    text, docs = render_notes(tools, tmp_path / "on", "prod", "--set", "gateway.service.port=8081")
    url = re.search(r"call the gateway:\s+http://([^.\s]+)\.mp\.svc:(\d+)", text)
    assert url is not None, text
    service = by_kind(docs, "Service")[url.group(1)]
    assert [p["port"] for p in service["spec"]["ports"] if p["name"] == "http"] == [8081]
    assert int(url.group(2)) == 8081
    forward = re.search(r"port-forward svc/(\S+) 8080:(\d+)", text)
    assert forward is not None
    assert (forward.group(1), forward.group(2)) == (url.group(1), "8081")
    assert 'curl -s http://127.0.0.1:8080/v1/models -H "authorization: Bearer' in text
    assert "(Ingress)" not in text

    text, _ = render_notes(
        tools,
        tmp_path / "ingress",
        "prod",
        *sets(
            gateway__ingress={
                "enabled": True,
                "host": "ml.example.com",
                "path": "/",
                "tlsSecretName": "ml-tls",
            }
        ),
    )
    assert "https://ml.example.com/ (Ingress)" in text

    text, _ = render_notes(tools, tmp_path / "off", "prod", "--set", "gateway.enabled=false")
    assert "gateway" not in text


def test_a_gpu_backend_demands_cuda_unless_its_env_says_otherwise(tools: Path) -> None:
    docs = objects(
        render(
            tools,
            "-f",
            str(CHART / "values-gpu.yaml"),
            *sets(backends__vision__env=[{"name": "MODELPORT_DEFAULT_DEVICE", "value": "auto"}]),
        )
    )
    deployments = by_kind(docs, "Deployment")
    nlp = pod_spec(deployments["mp-modelport-nlp"])["containers"][0]["env"]
    vision = pod_spec(deployments["mp-modelport-vision"])["containers"][0]["env"]
    assert [e["value"] for e in nlp if e["name"] == "MODELPORT_DEFAULT_DEVICE"] == ["cuda"]
    assert [e["value"] for e in vision if e["name"] == "MODELPORT_DEFAULT_DEVICE"] == ["auto"]


def fullname(release: str) -> str:
    return release if "modelport" in release else f"{release}-modelport"


@pytest.mark.parametrize("release", ["modelport", "prod"])
def test_backends_take_the_router_by_its_own_certificate(
    tools: Path, tmp_path: Path, release: str
) -> None:
    """With a router keypair of its own, every backend maps the name NOTES.txt asks the
    router's certificate for to role router, and nothing else: another certificate from
    the CA names nobody there."""
    text, docs = render_notes(
        tools,
        tmp_path,
        release,
        "--set",
        "security.tls.secretName=t",
        "--set",
        "security.tls.routerSecretName=r",
    )
    named = re.search(r"router's own certificate must name\s+(\S+)", text)
    assert named is not None
    assert named.group(1) == f"{fullname(release)}-router"
    deployments = by_kind(docs, "Deployment")
    for name in ("embedding", "nlp", "vision"):
        backend = container_env(deployments[f"{fullname(release)}-{name}"])
        value = backend["MODELPORT_AUTH_TLS_IDENTITIES"] or ""
        assert json.loads(value) == [{"peer": named.group(1), "role": "router"}], name
        (identity,) = TypeAdapter(list[TlsIdentity]).validate_json(value)  # as the app reads it
        assert (identity.peer, identity.role) == (named.group(1), "router")
        assert backend["MODELPORT_TLS_CLIENT_CA_FILE"] == "/etc/modelport/tls/ca.crt"
    for name in ("router", "gateway"):  # clients still bring tokens
        assert "MODELPORT_AUTH_TLS_IDENTITIES" not in container_env(
            deployments[f"{fullname(release)}-{name}"]
        )


# -- 8. escape hatches, model specs, network policy ------------------------------------------
def test_escape_hatches_reach_the_pods(tools: Path, tmp_path: Path) -> None:
    volume = [{"name": "weights", "emptyDir": {"sizeLimit": "1Gi"}}]
    mount = [{"name": "weights", "mountPath": "/weights"}]
    init = [{"name": "fetch", "image": "busybox:1.36", "command": ["true"], "volumeMounts": mount}]
    text = render(
        tools,
        *sets(
            backendDefaults__podAnnotations={"karpenter.sh/do-not-disrupt": "true"},
            backendDefaults__podLabels={"team": "ml"},
            backendDefaults__extraVolumes=volume,
            backendDefaults__extraVolumeMounts=mount,
            backendDefaults__initContainers=init,
            backendDefaults__serviceAccount={
                "create": True,
                "annotations": {"iam.gke.io/gcp-service-account": "m@p.iam"},
            },
            backendDefaults__livenessProbe={
                "periodSeconds": 20,
                "failureThreshold": 6,
                "timeoutSeconds": 9,
            },
            router__podAnnotations={"sidecar.istio.io/inject": "false"},
            router__serviceAccount={"annotations": {"a": "b"}},
            metrics__serviceMonitor={
                "enabled": True,
                "additionalLabels": {"release": "kps"},
                "scrapeTimeout": "10s",
                "relabelings": [{"action": "labeldrop", "regex": "x"}],
            },
        ),
    )
    validate(tools, tmp_path, text)
    docs = objects(text)
    nlp = by_kind(docs, "Deployment")["mp-modelport-nlp"]
    template = nlp["spec"]["template"]
    assert template["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    assert "checksum/models" in template["metadata"]["annotations"]
    assert template["metadata"]["labels"]["team"] == "ml"
    assert volume[0] in pod_spec(nlp)["volumes"]
    assert mount[0] in pod_spec(nlp)["containers"][0]["volumeMounts"]
    assert pod_spec(nlp)["initContainers"] == init
    assert pod_spec(nlp)["serviceAccountName"] == "mp-modelport-nlp"
    assert pod_spec(nlp)["automountServiceAccountToken"] is False
    accounts = by_kind(docs, "ServiceAccount")
    assert accounts["mp-modelport-nlp"]["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "m@p.iam"
    }
    assert accounts["mp-modelport-router"]["metadata"]["annotations"] == {"a": "b"}
    liveness = pod_spec(nlp)["containers"][0]["livenessProbe"]
    assert (
        liveness["periodSeconds"],
        liveness["failureThreshold"],
        liveness["timeoutSeconds"],
    ) == (20, 6, 9)
    router = by_kind(docs, "Deployment")["mp-modelport-router"]
    assert (
        router["spec"]["template"]["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
    )
    (monitor,) = by_kind(docs, "ServiceMonitor").values()
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"]["endpoints"][0]["scrapeTimeout"] == "10s"
    assert monitor["spec"]["endpoints"][0]["relabelings"] == [{"action": "labeldrop", "regex": "x"}]


def test_security_contexts_can_leave_the_uid_to_openshift(tools: Path, tmp_path: Path) -> None:
    nulls = {"runAsUser": None, "runAsGroup": None}
    text = render(
        tools, *sets(podSecurityContext={**nulls, "fsGroup": None}, containerSecurityContext=nulls)
    )
    validate(tools, tmp_path, text)
    for deployment in by_kind(objects(text), "Deployment").values():
        spec = pod_spec(deployment)
        for context in (spec["securityContext"], spec["containers"][0]["securityContext"]):
            assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(context)
            assert context["runAsNonRoot"] is True
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"devcie": "cuda"}, "devcie"),
        ({"device": "gpu"}, "device"),
        ({"dtype": "fp16"}, "dtype"),
        ({"options": {"max_contxt": 512}}, "max_contxt"),
        ({"options": {"max_context": "long"}}, "max_context"),
        ({"generation": {"max_runing": 4}}, "max_runing"),
        ({"batching": {"max_batch_size": 0}}, "max_batch_size"),
        # `path` or `package`, not both (ModelSpec._one_source), and not neither
        ({"package": "modelport.nlp.gemma3_270m"}, "models.0: Must not validate the schema (not)"),
        ({"path": None}, "models.0: path is required"),
    ],
)
def test_the_schema_validates_model_specs_like_the_app(
    tools: Path, spec: dict[str, Any], named: str
) -> None:
    model = {"name": "gen", "runtime": "hf-causal-lm", "path": "/models/gen", **spec}
    model = {k: v for k, v in model.items() if v is not None}
    error = refused(tools, *sets(backends__nlp__models=[model]))
    assert named in error


def test_a_valid_model_spec_passes_the_schema_and_the_app(tools: Path) -> None:
    from modelport.nlp.settings import NlpSettings

    model = {
        "name": "gen",
        "runtime": "hf-causal-lm",
        "package": "modelport.nlp.gemma3_270m",
        "dtype": "bfloat16",
        "options": {"max_context": 512},
        "generation": {"max_running": 4},
        "engine_options": {"batch_buckets": [1, 2, 4]},
    }
    docs = objects(render(tools, *sets(backends__nlp__models=[model])))
    config = yaml.safe_load(
        by_kind(docs, "ConfigMap")["mp-modelport-nlp-models"]["data"]["models.yaml"]
    )
    assert NlpSettings.runtimes.specs(config["models"])[0].name == "gen"


def test_the_generated_schema_is_fresh() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart_schema.py"), "--check"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'services'}{os.pathsep}{ROOT}"},
    )
    assert out.returncode == 0, out.stderr


def test_metrics_only_from_monitoring_and_an_optional_egress_policy(
    tools: Path, tmp_path: Path
) -> None:
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    policies = by_kind(objects(render(tools)), "NetworkPolicy")
    for name, policy in policies.items():
        metrics = next(r for r in policy["spec"]["ingress"] if r["ports"] == [{"port": "metrics"}])
        assert metrics["from"] == [monitoring], name
        assert policy["spec"]["policyTypes"] == ["Ingress"]
    text = render(
        tools,
        "--set",
        "networkPolicy.egress.enabled=true",
        "--set",
        "observability.otlpEndpoint=otel.monitoring:4317",
    )
    validate(tools, tmp_path, text)
    policies = by_kind(objects(text), "NetworkPolicy")
    for name, policy in policies.items():
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        ports = [
            sorted((p["port"], p["protocol"]) for p in rule["ports"])
            for rule in policy["spec"]["egress"]
        ]
        assert [(53, "TCP"), (53, "UDP")] in ports, name
        assert [(4317, "TCP")] in ports, name
        router = name.endswith("-router")
        assert ([(443, "TCP"), (6443, "TCP")] in ports) is router, name
        assert ([(50051, "TCP")] in ports) is router, name
    to_backends = next(
        r
        for r in policies["mp-modelport-router"]["spec"]["egress"]
        if r["ports"] == [{"port": 50051, "protocol": "TCP"}]
    )
    selector = to_backends["to"][0]["podSelector"]
    assert selector["matchExpressions"][0]["values"] == ["embedding", "nlp", "vision"]


# -- 9. dev loop ------------------------------------------------------------------------------
def test_skaffold_forwards_to_a_service_the_chart_renders_and_the_gpu_profile_pushes(
    tools: Path,
) -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    release = config["deploy"]["helm"]["releases"][0]
    dev = next(p for p in config["profiles"] if p["name"] == "dev")
    forwards = {f["resourceName"]: f for f in dev["portForward"]}
    assert {n: f["localPort"] for n, f in forwards.items()} == {
        "modelport-router": 50051,  # gRPC, where `modelport` calls by default
        "modelport-gateway": 8080,  # HTTP, where `modelport up` serves it
    }
    overrides = [f"{k}={v}" for k, v in release.get("setValues", {}).items()]
    for name in ("modelport", "dev", "my-team"):  # whatever the release is called
        args = ["-n", release["namespace"]]
        for override in overrides:
            args += ["--set", override]
        out = run(tools, "helm", "template", name, str(ROOT / release["chartPath"]), *args)
        assert out.returncode == 0, out.stderr
        services = by_kind(objects(out.stdout), "Service")
        for forward in forwards.values():
            assert forward["resourceName"] in services, name
            assert forward["namespace"] == release["namespace"]
            assert forward["port"] in [
                p["port"] for p in services[forward["resourceName"]]["spec"]["ports"]
            ]
    gpu = next(p for p in config["profiles"] if p["name"] == "gpu")
    assert {"op": "replace", "path": "/build/local/push", "value": True} in gpu["patches"]
