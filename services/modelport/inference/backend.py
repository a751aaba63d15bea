"""The gRPC services every inference backend serves besides its own typed service."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from modelport.inference.oip import TaskAdapter, oip_binding
from modelport.inference.registry_servicer import BackendRegistryServicer
from modelport.inference.repository import ModelRepository
from modelport.inference.stats import RequestStats
from modelport.serving.catalog import Task
from modelport.serving.server import ServiceBinding
from modelport.v1 import registry_pb2, registry_pb2_grpc

REGISTRY_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


def backend_bindings(
    name: str,
    register: Callable[[grpc.aio.Server], None],
    repository: ModelRepository,
    adapters: dict[Task, TaskAdapter],
    requests: RequestStats,
) -> list[ServiceBinding]:
    """The typed service, the read side of the registry, and the Open Inference Protocol."""
    registry = BackendRegistryServicer(repository)
    return [
        ServiceBinding(name, register),
        ServiceBinding(
            REGISTRY_NAME,
            lambda server: registry_pb2_grpc.add_RegistryServiceServicer_to_server(
                registry, server
            ),
        ),
        oip_binding(repository, adapters, requests),
    ]
