"""Gateway settings (environment, prefix `MODELPORT_GATEWAY_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """Settings of the HTTP gateway. Each field reads `MODELPORT_GATEWAY_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_GATEWAY_", extra="ignore")

    host: str = "0.0.0.0"
    """Address the HTTP server binds."""
    port: int = Field(8080, ge=0, le=65535)
    """HTTP port; 0 picks a free one."""
    tls_cert_file: Path | None = None
    """PEM certificate chain; set with `tls_key_file` to serve HTTPS (bearer tokens then
    never travel in the clear to the gateway; in a cluster TLS usually ends at the
    Ingress instead)."""
    tls_key_file: Path | None = None
    """PEM private key of `tls_cert_file`."""
    router_address: str = "127.0.0.1:50051"
    """The router's gRPC address, `host:port`: every request becomes a call on it."""
    router_tls_ca_file: Path | None = None
    """PEM CA bundle that signed the router's certificate; set to call the router over
    TLS (then bearer tokens never travel in the clear between gateway and router)."""
    router_tls_server_name: str | None = None
    """Name to verify in the router's certificate instead of its address."""
    metrics_port: int = Field(9094, ge=-1, le=65535)
    """Port of the Prometheus `/metrics` endpoint; -1 turns it off, 0 picks a free one."""
    timeout_s: float = Field(600.0, gt=0)
    """Deadline of each call on the router (generation streams included)."""
    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    """Largest request body; larger ones are refused with 413 before being read whole."""
    sse_heartbeat_s: float = Field(15.0, gt=0)
    """An SSE comment line (`: keep-alive`) is sent after this long without an event, so
    proxies do not close a quiet stream."""
    embedding_chunk_size: int = Field(1024, ge=1)
    """`/v1/embeddings` inputs sent per call on the router: a larger list is split into
    calls of this many (sent at once) instead of being refused. Keep it at or below the
    backends' `max_inputs_per_request`."""
    completion_max_tokens: int = Field(16, ge=1)
    """`max_tokens` of a `/v1/completions` request that gives none (OpenAI's default)."""
    audit_log: str = ""
    """Where requests the router refused (401, 403, 429) are written as JSON lines with
    the HTTP client's address: a path, "-" for stdout, empty for nowhere. The router's
    own audit log has the identity and method of each."""
    audit_denied_per_s: float = Field(1.0, gt=0)
    """Denied-request lines written per second per client address (see the router's)."""
    audit_denied_burst: int = Field(20, ge=1)
    """Denied-request lines a client address may have written at once."""
    log_level: str = "INFO"
    """Python logging level."""
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per line with trace id and request id."""
    otlp_endpoint: str | None = None
    """OTLP/gRPC collector (`host:port`) to export the gateway's spans to; unset: the
    caller's W3C trace context is carried along without spans of the gateway's own."""
    grace_period_s: float = Field(30.0, ge=0)
    """On SIGTERM: how long open requests (streams included) may take to finish."""

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together (both or neither)")
        return self
