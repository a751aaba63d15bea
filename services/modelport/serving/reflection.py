"""gRPC server reflection under both names tools use: `grpc.reflection.v1` (grpcurl and
grpc_cli try it first) and `grpc.reflection.v1alpha`.

grpcio-reflection implements only v1alpha. The two protocols are the same messages with
the same field numbers in another package, so the v1alpha servicer answers v1 calls as
they are; a copy of the v1alpha descriptors renamed to v1 lets tools describe the v1
service itself too.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2
from grpc_reflection.v1alpha._async import ReflectionServicer

V1_FILE = "grpc/reflection/v1/reflection.proto"
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"


def _add_v1_descriptors(pool: descriptor_pool.DescriptorPool) -> None:
    """Add `grpc/reflection/v1/reflection.proto` to `pool`: the v1alpha file renamed."""
    try:
        pool.FindFileByName(V1_FILE)
        return
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    old = f".{file.package}."
    file.name, file.package = V1_FILE, V1_PACKAGE
    for message in file.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(old, f".{V1_PACKAGE}.")
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, f".{V1_PACKAGE}.")
            method.output_type = method.output_type.replace(old, f".{V1_PACKAGE}.")
    file.ClearField("options")
    pool.Add(file)


def enable_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Serve reflection (v1 and v1alpha) for `service_names`, which it lists with itself."""
    pool = descriptor_pool.Default()
    _add_v1_descriptors(pool)
    names = [*service_names, reflection.SERVICE_NAME, V1_SERVICE_NAME]
    servicer = ReflectionServicer(names, pool=pool)
    reflection.enable_server_reflection(names, server, pool)  # v1alpha
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE_NAME, {"ServerReflectionInfo": handler}),)
    )
