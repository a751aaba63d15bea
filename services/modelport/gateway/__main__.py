"""Composition root of the HTTP gateway: `python -m modelport.gateway` (or
`modelport gateway`). Settings from `MODELPORT_GATEWAY_*`."""

from __future__ import annotations

import logging

import uvicorn

from modelport.gateway.app import build_app
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.settings import GatewaySettings
from modelport.serving.auth import open_audit
from modelport.serving.process import configure_logging
from modelport.serving.tracing import make_tracer

log = logging.getLogger(__name__)


def server(settings: GatewaySettings, metrics: GatewayMetrics | None = None) -> uvicorn.Server:
    """The uvicorn server of the gateway app (uvloop, httptools), metrics started."""
    metrics = metrics or GatewayMetrics()
    if settings.metrics_port >= 0:
        metrics.serve_http(settings.host, settings.metrics_port)
    tracer, _ = make_tracer("modelport-gateway", settings.otlp_endpoint)
    audit = open_audit(settings.audit_log, settings.audit_denied_per_s, settings.audit_denied_burst)
    app = build_app(settings, metrics, tracer=tracer, audit=audit)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.grace_period_s),
        limit_concurrency=None,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
    )
    return uvicorn.Server(config)


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format)
    log.info(
        "gateway on http://%s:%d (OpenAI /v1, OIP /v2, typed /modelport.v1.*) → router %s",
        settings.host,
        settings.port,
        settings.router_address,
    )
    instance = server(settings)
    instance.run()
    if not instance.started:  # the port is taken, say: uvicorn logged why
        raise SystemExit(1)


if __name__ == "__main__":
    main()
