"""The gateway's ASGI app: the three APIs' routes, health, and the middleware, with the
router channel opened in the lifespan (grpc.aio channels belong to the loop that made
them, so never at import or construction time)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from modelport.gateway import typed
from modelport.gateway.errors import GatewayError
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.middleware import GatewayMiddleware
from modelport.gateway.oip.routes import OipRoutes
from modelport.gateway.openai import routes as openai_routes
from modelport.gateway.openai.serving import OpenAiServing
from modelport.gateway.responses import Json, guarded, scope_error_response
from modelport.gateway.settings import GatewaySettings
from modelport.gateway.upstream import Router, rpc_errors
from modelport.serving.auth import AuditLog

HEALTH = "/grpc.health.v1.Health/Check"


def health_routes(router: Router) -> list[BaseRoute]:
    """`/healthz`: the gateway process answers (liveness). `/readyz`: the router reports
    SERVING on grpc.health.v1 (readiness; open without credentials, like the router's)."""

    async def healthz(request: Request) -> Response:
        return Json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        check = router.channel.unary_unary(
            HEALTH,
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        with rpc_errors():
            answer = await check(health_pb2.HealthCheckRequest(), timeout=5)
        if answer.status != health_pb2.HealthCheckResponse.SERVING:
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, "the router is not serving")
        return Json({"status": "ok"})

    return [
        Route("/healthz", guarded("typed", healthz), methods=["GET"]),
        Route("/readyz", guarded("typed", readyz), methods=["GET"]),
    ]


def build_app(
    settings: GatewaySettings,
    metrics: GatewayMetrics,
    *,
    tracer: trace.Tracer | None = None,
    audit: AuditLog | None = None,
) -> ASGIApp:
    router = Router(settings)
    heartbeat = settings.sse_heartbeat_s
    serving = OpenAiServing(
        router,
        chunk_size=settings.embedding_chunk_size,
        completion_max_tokens=settings.completion_max_tokens,
    )
    routes: list[BaseRoute] = [
        *health_routes(router),
        *openai_routes.routes(serving, heartbeat),
        *OipRoutes(router, heartbeat).routes(),
        *typed.routes(router, heartbeat),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await router.open()
        try:
            yield
        finally:
            await router.close()

    app = Starlette(routes=routes, lifespan=lifespan)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        code = grpc.StatusCode.UNIMPLEMENTED if status == 405 else grpc.StatusCode.NOT_FOUND
        what = "method not allowed on" if status == 405 else "no route for"
        error = GatewayError(
            code, f"{what} {request.method} {request.url.path}", http_status=status
        )
        return scope_error_response(request.scope, error)

    app.add_exception_handler(404, not_found)
    app.add_exception_handler(405, not_found)
    return GatewayMiddleware(
        app,
        routes=routes,
        metrics=metrics,
        error_response=scope_error_response,
        max_body_bytes=settings.max_body_bytes,
        tracer=tracer,
        audit=audit,
    )
