"""Settings every Modelport process has (environment, prefix `MODELPORT_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelport.serving import endpoints


class TlsIdentity(BaseModel):
    """A client certificate identity and the principal it stands for (one entry of
    `auth_tls_identities`)."""

    model_config = ConfigDict(extra="forbid")

    peer: str = Field(min_length=1)
    """What the caller's verified certificate must name: a SAN URI (`spiffe://...`), a
    SAN DNS name, or the subject CN of a certificate without SANs."""
    role: Literal["client", "registrar", "router", "admin"] = "client"
    """What it may call (see `modelport.serving.identity`)."""
    identity: str = ""
    """The name its calls are audited and rate-limited under; empty: `peer`."""
    endpoints: list[str] = Field(default_factory=list)
    """A registrar: CIDRs, hosts or `host:port`s of the endpoints it may register."""
    same_host: bool = False
    """A registrar: it may register endpoints on the address it calls from."""

    @model_validator(mode="after")
    def _registrar_bound(self) -> TlsIdentity:
        for pattern in self.endpoints:
            endpoints.check_pattern(pattern)
        if self.role == "registrar" and not self.endpoints and not self.same_host:
            raise ValueError(
                f"{self.peer!r}: a registrar is bound to `endpoints` (CIDR, host or "
                "host:port) or to `same_host: true`"
            )
        if self.role != "registrar" and (self.endpoints or self.same_host):
            raise ValueError(f"{self.peer!r}: only a registrar is bound to endpoints")
        return self


class CommonSettings(BaseSettings):
    """Settings every Modelport process has. Each field reads `MODELPORT_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="MODELPORT_", env_nested_delimiter="__", extra="ignore"
    )

    host: str = "0.0.0.0"
    """Address the gRPC server binds."""
    port: int = Field(50051, ge=0, le=65535)
    """gRPC port; 0 picks a free one."""
    health_port: int = Field(-1, ge=-1, le=65535)
    """A plaintext port serving only grpc.health.v1, for Kubernetes' gRPC probes (which
    cannot speak TLS) when the main port is TLS; -1 turns it off."""
    metrics_port: int = Field(9090, ge=-1, le=65535)
    """Port of the Prometheus `/metrics` endpoint; -1 turns it off, 0 picks a free one."""
    max_message_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    """Largest gRPC message received or sent."""
    keepalive_time_s: float = Field(30.0, gt=0)
    """Interval of HTTP/2 keepalive pings to idle clients."""
    keepalive_timeout_s: float = Field(10.0, gt=0)
    """How long to wait for a keepalive ack before closing the connection."""
    grace_period_s: float = Field(30.0, ge=0)
    """On SIGTERM: how long in-flight calls may take to finish before the server stops."""
    drain_delay_s: float = Field(0.0, ge=0)
    """On SIGTERM: keep accepting calls this long after turning NOT_SERVING, so load
    balancers (the router, Kubernetes endpoints) stop sending before the port closes."""
    log_level: str = "INFO"
    """Python logging level."""
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per line with trace id and request id."""
    otlp_endpoint: str | None = None
    """OTLP/gRPC collector (`host:port`) to export traces to; unset exports nothing."""
    tls_cert_file: Path | None = None
    """PEM certificate chain of this server; set with `tls_key_file` to serve TLS."""
    tls_key_file: Path | None = None
    """PEM private key of this server."""
    tls_client_ca_file: Path | None = None
    """PEM CA bundle; when set, clients must present a certificate it signed (mTLS).
    Certificates are read at start: rotate them with a rolling restart."""
    auth_tokens_file: Path | None = None
    """YAML file of bearer tokens with identity and role (client | registrar | router |
    admin; a registrar is bound to `endpoints` or `same_host`); unset with
    `auth_router_token_file` unset too: no auth."""
    auth_router_token_file: Path | None = None
    """A backend: file holding the router's token (the router's `backend_token_file`);
    whoever presents it is identity `router` with role `router`. Setting it turns auth on,
    so only the router (and the tokens of `auth_tokens_file`) gets in."""
    auth_tls_identities: list[TlsIdentity] = Field(default_factory=list)
    """Client certificate identities and their roles (JSON list of `{"peer": ...,
    "role": ..., "identity": ...}`): a caller without a bearer token whose certificate
    (verified against `tls_client_ca_file`, which must be set) names one of them is that
    principal, so a deployment can authenticate by mTLS alone. Setting it turns auth on.
    A bearer token, when sent, decides instead."""
    rate_limit_per_s: float = Field(0.0, ge=0)
    """Inputs per second per identity (token bucket): a call costs one per input it
    carries (texts, prompts, images; an Open Inference Protocol ModelInfer its batch: its
    largest first dimension, or the element count of a BYTES tensor; 1 for other calls),
    and so does every message of a client stream (EmbedStream, ModelStreamInfer). 0 turns
    rate limiting off. The router role is never limited."""
    rate_limit_burst: int = Field(20, ge=1)
    """Inputs an identity may send at once before the rate applies. A bucket with any
    token left admits a call of any size and goes negative."""
    max_streams_per_identity: int = Field(64, ge=0)
    """Streaming calls (client, server or both) one identity may have open at once; more
    are RESOURCE_EXHAUSTED. 0: no cap. Only with auth on; the router role is not capped."""
    max_streams_per_connection: int = Field(1024, ge=1)
    """Calls (unary or streaming) one client connection may have open at once: the HTTP/2
    SETTINGS_MAX_CONCURRENT_STREAMS the server announces. A client past it waits for one of
    its calls to end (gRPC clients queue the call; nothing fails), so one connection cannot
    hold an unbounded number of streams open. Other connections are not affected."""
    audit_log: str = ""
    """Where admin actions, registry changes and denied calls are written as JSON lines: a
    path, "-" for stdout, empty for nowhere."""
    audit_denied_per_s: float = Field(1.0, gt=0)
    """Denied-call lines written per second per source (identity, or peer address without
    one; ten times that over all sources); the denials beyond it are counted, and the
    count goes out with the source's next line."""
    audit_denied_burst: int = Field(20, ge=1)
    """Denied-call lines a source may have written at once before `audit_denied_per_s`
    applies."""

    @model_validator(mode="after")
    def _identities_need_verified_certificates(self) -> CommonSettings:
        if self.auth_tls_identities and (
            self.tls_client_ca_file is None or self.tls_cert_file is None
        ):
            raise ValueError(
                "auth_tls_identities needs verified client certificates: set "
                "tls_cert_file, tls_key_file and tls_client_ca_file (MODELPORT_TLS_*)"
            )
        peers = [entry.peer for entry in self.auth_tls_identities]
        if len(set(peers)) != len(peers):
            raise ValueError("auth_tls_identities lists the same peer twice")
        return self

    @property
    def auth_enabled(self) -> bool:
        """Whether calls must be authenticated (tokens or certificate identities)."""
        return bool(
            self.auth_tokens_file is not None
            or self.auth_router_token_file is not None
            or self.auth_tls_identities
        )
