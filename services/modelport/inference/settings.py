"""Settings of an inference process: environment (prefix `MODELPORT_`) plus a YAML model
config file."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelport.serving.settings import CommonSettings


class BatchingSettings(BaseModel):
    """How a model's dynamic batcher forms batches."""

    model_config = ConfigDict(extra="forbid")

    max_batch_size: int = Field(32, ge=1)
    """Most inputs in one model call."""
    max_queue_delay_ms: float = Field(0.0, ge=0)
    """Extra time to wait for more inputs when the model is idle and the batch is not full.
    0 (the default) dispatches at once when idle; inputs that arrive while the model is busy
    are collected into the next batch anyway, so throughput under load needs no delay."""
    adaptive: bool = True
    """After a batch of N > 1 inputs, wait up to half of its compute time for N inputs
    before cutting the next batch (the callers just answered usually come straight back).
    Keeps batches full under load; a lone call arriving right after such a batch may wait
    up to half that compute time. A call that finds the model idle is never delayed."""
    max_queue_size: int = Field(1024, ge=1)
    """Most inputs waiting; beyond it calls get RESOURCE_EXHAUSTED at once."""


class GenerationSettings(BaseModel):
    """How a generative model's decoding loop admits and batches generations, and the
    bounds of a request's `max_new_tokens`."""

    model_config = ConfigDict(extra="forbid")

    max_running: int = Field(8, ge=1)
    """Most sequences decoded together (the running batch)."""
    max_waiting: int = Field(256, ge=1)
    """Most generations waiting for a decoding slot; beyond it calls get
    RESOURCE_EXHAUSTED at once. Waiting generations count in `modelport_queue_depth`."""
    max_kv_tokens: int = Field(16384, ge=1)
    """KV budget of the running batch: prompt + `max_new_tokens` summed over its
    sequences. A generation that alone exceeds it still runs, alone."""
    default_max_new_tokens: int = Field(64, ge=1)
    """Tokens generated when a request does not say."""
    max_new_tokens: int = Field(512, ge=1)
    """Most tokens a request may ask for; above it is INVALID_ARGUMENT."""

    @model_validator(mode="after")
    def _default_within_limit(self) -> GenerationSettings:
        if self.default_max_new_tokens > self.max_new_tokens:
            raise ValueError(
                f"default_max_new_tokens ({self.default_max_new_tokens}) exceeds "
                f"max_new_tokens ({self.max_new_tokens})"
            )
        return self


class ModelSpec(BaseModel):
    """One model to serve (an entry of the YAML model config)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    """Name clients use in `ModelRef.name`."""
    version: str = "1"
    """Version clients may pin in `ModelRef.version`."""
    runtime: str
    """Which model class loads it, e.g. `sentence-embedding`."""
    path: Path | None = None
    """Local folder in Hugging Face layout."""
    package: str | None = None
    """Or: a Python package that ships the folder and exposes `get_model_path()`."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """`auto` uses CUDA when present."""
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """`auto`: float16 on CUDA, float32 on CPU."""
    preprocess_threads: int = Field(1, ge=1)
    """Threads that prepare inputs (tokenise, decode images) beside model compute."""
    batching: BatchingSettings = Field(default_factory=BatchingSettings)
    """Dynamic batching of this model (batched runtimes)."""
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    """Batched decoding of this model (generative runtimes)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Runtime-specific options (documented with each runtime)."""

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if self.path is not None and self.package is not None:
            raise ValueError(f"model {self.name!r}: set `path` or `package`, not both")
        return self

    def resolve_path(self) -> Path:
        """The local folder the weights load from."""
        if self.path is not None:
            return self.path
        if self.package is None:
            raise ValueError(f"model {self.name!r} needs `path` or `package`")
        module = importlib.import_module(self.package)
        return Path(module.get_model_path())


class ServerSettings(CommonSettings):
    """Settings of one inference process."""

    models_file: Path | None = None
    """YAML file with a `models:` list of model specs; unset serves the built-in default."""
    models: list[ModelSpec] = Field(default_factory=list)
    """Model specs (filled from `models_file` when that is set)."""
    max_inputs_per_request: int = Field(1024, ge=1)
    """Most inputs (texts, images) one call may carry."""
    torch_threads: int = Field(0, ge=0)
    """Intra-op threads for model compute; 0 means one per CPU core."""
    warmup: bool = True
    """Run each model's warm-up (a batch, or a short generation) through its scheduler
    before the model reports READY."""
    router_address: str | None = None
    """Router to register this process's models with (`host:port`); unset: no registration."""
    advertise_address: str | None = None
    """Address the router should call this process at; unset: `host:port` (with
    127.0.0.1 for a wildcard host). In Kubernetes set it to the pod IP and port."""
    lease_ttl_s: float = Field(10.0, gt=0)
    """Lease asked of the router; renewed every third of it."""
    router_token: str | None = None
    """Bearer token this backend registers with when the router has auth on: a `registrar`
    token bound to this backend's advertised endpoint (or `same_host`)."""
    router_tls_ca_file: Path | None = None
    """PEM CA bundle to verify the router's TLS certificate; unset: plaintext to the router
    (refused with a `router_token` when this backend serves TLS itself)."""

    def advertised(self, port: int) -> str:
        """The `host:port` the router should call, given the port actually bound."""
        if self.advertise_address:
            return self.advertise_address
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return f"{host}:{port}"

    @model_validator(mode="after")
    def _token_never_in_plaintext_beside_tls(self) -> ServerSettings:
        if (
            self.router_address
            and self.router_token
            and self.tls_cert_file is not None
            and self.router_tls_ca_file is None
        ):
            raise ValueError(
                "router_token would travel to the router in plaintext while this backend "
                "serves TLS: set router_tls_ca_file (MODELPORT_ROUTER_TLS_CA_FILE)"
            )
        return self

    @model_validator(mode="after")
    def _read_models_file(self) -> ServerSettings:
        if self.models_file is not None and not self.models:
            data = yaml.safe_load(self.models_file.read_text()) or {}
            self.models = [ModelSpec.model_validate(m) for m in data.get("models", [])]
        return self
