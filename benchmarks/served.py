"""Served variants of one model for the benchmarks: a router and one service process per
engine, each serving the model under its own name, all started before any load.

    processes, targets = start_per_engine("modelport.nlp", {"torch": spec, ...}, workdir)

Each variant's spec is written to a models file of its own (`MODELPORT_MODELS_FILE`); the
services register with the router, so every variant is called through it (or, with
`direct`, at the service's own address). The engine each one serves is read back from
`ListModels`, and a variant that did not get the engine it asked for stops the run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import grpc
import yaml

from benchmarks.embedding import free_port

START_TIMEOUT_S = 600
"""A service's export, probe check and warm-up on a busy 2-core machine."""


def start_per_engine(
    module: str,
    specs: dict[str, dict[str, Any]],
    workdir: Path,
    *,
    threads: int = 2,
    direct: bool = False,
) -> tuple[list[Any], dict[str, str]]:
    """A router (unless `direct`) and one `module` service per variant serving
    `specs[variant]` (a model spec as the models file takes it); the processes (in stop
    order) and the address to call for each variant."""
    from tests.helpers import ServiceProcess

    env = {**os.environ, "MODELPORT_LOG_LEVEL": "WARNING"}
    router = ServiceProcess(
        "modelport.router", {**env, "MODELPORT_DATA_DIR": str(workdir / "router")}, free_port()
    )
    processes: list[Any] = []
    targets: dict[str, str] = {}
    try:
        if not direct:
            router.start().wait_serving()
        for variant, spec in specs.items():
            models = workdir / f"models-{variant}.yaml"
            models.write_text(yaml.safe_dump({"models": [spec]}))
            service_env = {
                **env,
                "MODELPORT_MODELS_FILE": str(models),
                "MODELPORT_TORCH_THREADS": str(threads),
            }
            if not direct:
                service_env["MODELPORT_ROUTER_ADDRESS"] = router.address
            service = ServiceProcess(module, service_env, free_port()).start()
            processes.append(service)
            # One at a time: exports and probe checks share the cores.
            service.wait_serving(START_TIMEOUT_S)
            targets[variant] = service.address if direct else router.address
            served = model_properties(targets[variant], spec["name"]).get("engine")
            if served != spec.get("engine", served):
                raise SystemExit(f"{spec['name']} asked for {spec['engine']}, serves on {served}")
    except BaseException:
        for process in [*processes, router]:
            process.stop()
        raise
    return [*processes, router], targets


def model_properties(target: str, model_name: str, timeout_s: float = 60) -> dict[str, str]:
    """The `ListModels` metadata of `model_name` once it is READY at `target`."""
    from modelport.v1 import registry_pb2, registry_pb2_grpc

    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(target) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        while time.monotonic() < deadline:
            request = registry_pb2.ListModelsRequest(ready_only=True)
            for model in stub.ListModels(request, timeout=5).models:
                if model.name == model_name and model.versions:
                    return dict(model.versions[0].metadata)
            time.sleep(0.2)  # registration follows the service's SERVING by a moment
    raise SystemExit(f"{model_name} never became READY at {target}")
