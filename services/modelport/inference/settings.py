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


class EngineOptions(BaseModel):
    """How the chosen engine runs a model (`ModelSpec.engine_options`)."""

    model_config = ConfigDict(extra="forbid")

    min_cosine: float = Field(0.99999, ge=0, le=1)
    """Agreement the ONNX Runtime engine must reach with the torch model at load: the worst
    cosine similarity, over a probe batch, between the rows each engine produces (pooled
    vectors for embeddings, logits for classifiers). Below it the model serves with torch
    and says why in `ListModels` metadata and the log. 1 demands identical outputs."""
    quantize: Literal["none", "int8"] = "none"
    """`int8`: dynamic int8 quantisation of the ONNX graph's weights (faster on CPU, less
    exact). Served only when the probe set passes `int8_min_mean_cosine` and
    `int8_min_neighbour_agreement`; otherwise the fp32 graph serves and the metadata says
    why. Never the default: one measured embedding drifted to a cosine of 0.95."""
    int8_min_mean_cosine: float = Field(0.99, ge=0, le=1)
    """int8 gate: least mean cosine between int8 and fp32 rows over the probe set."""
    int8_min_neighbour_agreement: float = Field(0.9, ge=0, le=1)
    """int8 gate: least share of probe rows whose nearest other row (embeddings) or top-1
    label (classifiers) is the same with int8 as with fp32."""
    threads: int = Field(0, ge=0)
    """Intra-op threads of the ONNX Runtime session; 0: as many as torch uses in this
    process (`MODELPORT_TORCH_THREADS`, default one per core)."""
    allow_spinning: bool = False
    """Let ONNX Runtime's idle intra-op threads spin waiting for work (lower latency on
    cores of its own; on shared cores spinning threads steal time from the rest)."""
    batch_buckets: list[int] = Field(default_factory=list)
    """Batch sizes a batch is padded up to (ascending; empty: no padding). Fewer shapes
    mean fewer one-off kernel setups; every bucket is run once at load."""
    sequence_buckets: list[int] = Field(default_factory=list)
    """Sequence lengths a padded batch is widened to (ascending; empty: the longest input
    of each group). Lengths past the last bucket keep their own width."""
    session_config: dict[str, str] = Field(default_factory=dict)
    """Extra ONNX Runtime session config entries, by ONNX Runtime's key names (e.g.
    `session.dynamic_block_base`); applied after Modelport's own."""
    provider_options: dict[str, str] = Field(default_factory=dict)
    """Options of the execution provider (ONNX Runtime's names, e.g. for CUDA
    `{"device_id": "0"}`)."""

    @model_validator(mode="after")
    def _ascending(self) -> EngineOptions:
        for name in ("batch_buckets", "sequence_buckets"):
            values = getattr(self, name)
            if any(v < 1 for v in values) or values != sorted(set(values)):
                raise ValueError(f"{name} must be distinct positive sizes in ascending order")
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
    """Dynamic batching of this model."""
    engine: Literal["auto", "torch", "onnxruntime"] = "auto"
    """What runs the model's forward pass. `torch`: eager PyTorch. `onnxruntime`: the
    model exported once to ONNX (cached under the cache directory), run by ONNX Runtime
    and checked against torch at load; if the export fails or disagrees, the model serves
    with torch and its metadata says why. `auto`: ONNX Runtime where the runtime has an
    ONNX path and the check passes, torch otherwise."""
    engine_options: EngineOptions = Field(default_factory=EngineOptions)
    """How the engine runs (thresholds, threads, quantisation, shape buckets)."""
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
    """Run one batch through each model before reporting SERVING."""
    router_address: str | None = None
    """Router to register this process's models with (`host:port`); unset: no registration."""
    advertise_address: str | None = None
    """Address the router should call this process at; unset: `host:port` (with
    127.0.0.1 for a wildcard host). In Kubernetes set it to the pod IP and port."""
    lease_ttl_s: float = Field(10.0, gt=0)
    """Lease asked of the router; renewed every third of it."""
    router_token: str | None = None
    """Bearer token (admin role) this backend registers with when the router has auth on."""
    router_tls_ca_file: Path | None = None
    """PEM CA bundle to verify the router's TLS certificate; unset: plaintext to the router."""

    def advertised(self, port: int) -> str:
        """The `host:port` the router should call, given the port actually bound."""
        if self.advertise_address:
            return self.advertise_address
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return f"{host}:{port}"

    @model_validator(mode="after")
    def _read_models_file(self) -> ServerSettings:
        if self.models_file is not None and not self.models:
            data = yaml.safe_load(self.models_file.read_text()) or {}
            self.models = [ModelSpec.model_validate(m) for m in data.get("models", [])]
        return self
