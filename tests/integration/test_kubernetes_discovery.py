"""Router discovery against a real kube-apiserver (built from Debian's source package by
`make k8s`, scripts/kube-apiserver.sh, before pytest starts) and etcd: EndpointSlices in,
registrations out."""

from __future__ import annotations

import contextlib
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from modelport.v1 import (
    common_pb2,
    embedding_pb2,
    embedding_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from tests import prepared
from tests.helpers import ServiceProcess, free_port, models_file

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

TOKEN = "modelport-test-token"
GROUP, VERSION = "discovery.k8s.io", "v1beta1"  # Kubernetes 1.20 serves v1beta1 only


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    binary = prepared.kube_apiserver()
    work = tmp_path_factory.mktemp("kube")
    subprocess.run(
        f"openssl genrsa -out {work}/sa.key 2048 && "
        f"openssl rsa -in {work}/sa.key -pubout -out {work}/sa.pub",
        shell=True,
        check=True,
        capture_output=True,
    )
    (work / "tokens.csv").write_text(f"{TOKEN},admin,admin,system:masters\n")
    client, peer, api = free_port(), free_port(), free_port()
    etcd = subprocess.Popen(
        [
            "etcd",
            "--data-dir",
            str(work / "etcd"),
            "--listen-client-urls",
            f"http://127.0.0.1:{client}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
        ],
        stdout=(work / "etcd.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    server = subprocess.Popen(
        [
            str(binary),
            f"--etcd-servers=http://127.0.0.1:{client}",
            f"--secure-port={api}",
            "--bind-address=127.0.0.1",
            "--insecure-port=0",
            f"--cert-dir={work}/certs",
            f"--token-auth-file={work}/tokens.csv",
            "--authorization-mode=AlwaysAllow",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={work}/sa.pub",
            f"--service-account-signing-key-file={work}/sa.key",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--enable-priority-and-fairness=false",
            "--disable-admission-plugins=ServiceAccount",
        ],
        stdout=(work / "apiserver.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(api)
        config = work / "kubeconfig"
        config.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "test",
                    "clusters": [
                        {
                            "name": "test",
                            "cluster": {
                                "server": f"https://127.0.0.1:{api}",
                                "insecure-skip-tls-verify": True,
                            },
                        }
                    ],
                    "users": [{"name": "test", "user": {"token": TOKEN}}],
                    "contexts": [
                        {
                            "name": "test",
                            "context": {"cluster": "test", "user": "test", "namespace": "default"},
                        }
                    ],
                }
            )
        )
        yield config
    finally:
        for process in (server, etcd):
            process.terminate()
            process.wait(30)


def wait_ready(port: int, timeout_s: float = 120) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}/readyz", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        assert time.monotonic() < deadline, "kube-apiserver did not become ready"
        time.sleep(0.5)


def slices(config: Path) -> Any:
    from kubernetes import client
    from kubernetes import config as kube_config

    kube_config.load_kube_config(config_file=str(config))  # type: ignore[no-untyped-call]
    return client.CustomObjectsApi()


def endpoint_slice(
    name: str, port: int, ready: bool = True, backend: bool = True
) -> dict[str, Any]:
    labels = {"kubernetes.io/service-name": name}
    if backend:
        labels["modelport.dev/backend"] = "true"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": labels},
        "addressType": "IPv4",
        "ports": [{"name": "grpc", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": ready}}],
    }


def replicas(router: ServiceProcess, name: str) -> list[Any]:
    stub = registry_pb2_grpc.RegistryServiceStub(grpc.insecure_channel(router.address))
    response = stub.ListModels(registry_pb2.ListModelsRequest(), timeout=5)
    return [r for m in response.models if m.name == name for v in m.versions for r in v.replicas]


def eventually(check: Any, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the router did not follow the EndpointSlices"
        time.sleep(0.1)


def test_router_follows_endpointslices(
    kubeconfig: Path, tmp_path: Path, tiny_bert_dir: Path, free_env: dict[str, str]
) -> None:
    backend = ServiceProcess(
        "modelport.embedding",
        {
            **free_env,
            "MODELPORT_MODELS_FILE": str(
                models_file(
                    tmp_path / "m.yaml",
                    {
                        "name": "kube-model",
                        "runtime": "sentence-embedding",
                        "path": str(tiny_bert_dir),
                    },
                )
            ),
        },
        free_port(),
    ).start()
    router_env = {
        **free_env,
        "MODELPORT_DATA_DIR": str(tmp_path / "data"),
        "MODELPORT_DISCOVERY": "kubernetes",
        "MODELPORT_KUBECONFIG": str(kubeconfig),
        "MODELPORT_KUBERNETES_NAMESPACE": "default",
        "MODELPORT_KUBERNETES_API_VERSION": f"{GROUP}/{VERSION}",
        "MODELPORT_KUBERNETES_REFRESH_S": "1",
    }
    router = ServiceProcess("modelport.router", router_env, free_port()).start()
    api = slices(kubeconfig)
    try:
        backend.wait_serving()
        router.wait_serving()
        api.create_namespaced_custom_object(
            GROUP, VERSION, "default", "endpointslices", endpoint_slice("embedding-a", backend.port)
        )
        api.create_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            "endpointslices",
            endpoint_slice("unrelated", 9, backend=False),
        )
        eventually(lambda: len(replicas(router, "kube-model")) == 1)
        (replica,) = replicas(router, "kube-model")
        assert replica.source == "kubernetes"
        assert replica.endpoint == f"127.0.0.1:{backend.port}"
        stub = embedding_pb2_grpc.EmbeddingServiceStub(grpc.insecure_channel(router.address))
        response = stub.Embed(
            embedding_pb2.EmbedRequest(
                model=common_pb2.ModelRef(name="kube-model"), inputs=["found by the watch"]
            ),
            timeout=10,
        )
        assert len(response.embeddings[0].values) == 32

        # not ready → gone; ready again → back; deleted → gone
        api.replace_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            "endpointslices",
            "embedding-a",
            merged(api, "embedding-a", False),
        )
        eventually(lambda: not replicas(router, "kube-model"))
        api.replace_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            "endpointslices",
            "embedding-a",
            merged(api, "embedding-a", True),
        )
        eventually(lambda: len(replicas(router, "kube-model")) == 1)
        api.delete_namespaced_custom_object(
            GROUP, VERSION, "default", "endpointslices", "embedding-a"
        )
        eventually(lambda: not replicas(router, "kube-model"))

        # a restarted router lists the slices again by itself
        api.create_namespaced_custom_object(
            GROUP, VERSION, "default", "endpointslices", endpoint_slice("embedding-b", backend.port)
        )
        eventually(lambda: len(replicas(router, "kube-model")) == 1)
        router.kill()
        router = ServiceProcess("modelport.router", router_env, router.port).start()
        router.wait_serving()
        eventually(lambda: len(replicas(router, "kube-model")) == 1)
    finally:
        for name in ("embedding-a", "embedding-b", "unrelated"):
            with contextlib.suppress(Exception):  # already deleted by the test
                api.delete_namespaced_custom_object(
                    GROUP, VERSION, "default", "endpointslices", name
                )
        router.stop()
        backend.stop()


def merged(api: Any, name: str, ready: bool) -> dict[str, Any]:
    current: dict[str, Any] = api.get_namespaced_custom_object(
        GROUP, VERSION, "default", "endpointslices", name
    )
    current["endpoints"][0]["conditions"] = {"ready": ready}
    return current


def test_ready_endpoints_parse_slices() -> None:
    from modelport.router.kubernetes import ready_endpoints

    slice_ = {
        "ports": [{"name": "metrics", "port": 9090}, {"name": "grpc", "port": 50051}],
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
            {"addresses": ["10.0.0.3"]},
            {"addresses": ["fd00::4"], "conditions": {"ready": True, "terminating": True}},
        ],
    }
    assert ready_endpoints(slice_) == {"10.0.0.1:50051", "10.0.0.3:50051"}
    assert ready_endpoints({"ports": [], "endpoints": []}) == set()
