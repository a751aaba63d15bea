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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
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


def load_in_process(
    model_class: Callable[[Any, Path], Any], spec: Any, cache_dir: Path, engine: str, threads: int
) -> Any:
    """`spec`'s model built by `model_class` and loaded in this process on `engine`; a
    model that runs on another engine stops the run."""
    import torch

    torch.set_num_threads(threads)
    model = model_class(spec.model_copy(update={"engine": engine}), cache_dir)
    model.load_weights()
    served = model.metadata().properties["engine"]
    if served != engine:
        raise SystemExit(f"in-process {spec.name} asked for {engine}, runs on {served}")
    return model


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


def summary(
    label: str,
    unit: str,
    concurrency: int,
    limits: dict[str, list[float]],
    served: dict[str, list[float]],
    lone: dict[str, float],
) -> dict[str, Any]:
    """Print and return one run's figures: the in-process limits (`eager`, `engine`: each
    measurement, and their means, the denominators) and, per engine served through the
    router, the c=1 p50 and each block's rate at `concurrency` with its ratios."""
    eager, engine = (float(np.mean(limits[k])) for k in ("eager", "engine"))
    print(
        f"{label}, in process (before the served blocks and after each round): eager "
        f"{', '.join(f'{x:.1f}' for x in limits['eager'])} {unit}/s (mean {eager:.1f}); "
        f"ONNX Runtime {', '.join(f'{x:.1f}' for x in limits['engine'])} (mean {engine:.1f})"
    )
    results: dict[str, Any] = {"limits": limits, "eager_limit": eager, "engine_limit": engine}
    for name, rates in served.items():
        rate = float(np.mean(rates))
        print(
            f"{label} through the router, {name}: c=1 p50 {lone[name]:.2f} ms; "
            f"c={concurrency} {', '.join(f'{x:.1f}' for x in rates)} {unit}/s = "
            f"{rate / eager:.2f}x eager, {rate / engine:.2f}x engine"
        )
        results[f"router_{name}"] = {
            "c1_p50_ms": lone[name],
            f"c{concurrency}_{unit}_per_s": rates,
            "x_eager_limit": rate / eager,
            "x_engine_limit": rate / engine,
        }
    return results
