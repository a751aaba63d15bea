"""Settings of an inference process: environment (prefix `MODELPORT_`) plus a YAML model
config file.

Each service lists its runtimes in a `Runtimes` table: per runtime, a `ModelSpec` subclass
(`runtime: Literal[...]`, typed `options`) and its model class. The model config is read
as the union of those spec classes discriminated on `runtime`, so an unknown runtime, an
unknown option or a bad value is a `ConfigError` naming the model and the field while the
settings are read, before anything serves.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelport.inference.explaining import ExplainLimits
from modelport.inference.text import TextLimits
from modelport.serving.errors import ConfigError
from modelport.serving.settings import CommonSettings


def _positive(value: ByteSize) -> ByteSize:
    if value <= 0:
        raise ValueError("must be more than 0 bytes")
    return value


PositiveBytes = Annotated[ByteSize, AfterValidator(_positive)]
"""A number of bytes above 0, written as a number or with a unit (`512MiB`, `2GB`)."""

TOKEN_BUDGET = 128
"""The default `max_batch_tokens`, chosen by benchmarks/fairness.py on 2 CPU cores."""


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
    max_batch_tokens: int = Field(TOKEN_BUDGET, ge=0)
    """Most padded tokens in one batch (inputs x the longest of them) for models whose
    inputs have tokens (text); 0: no bound. A batch's compute grows with it, and a call
    that arrives while a batch runs waits for that batch and rides in the next, so it
    bounds how long one caller's long inputs can hold another's short one. An input over
    it runs alone. Raise it where bigger batches pay (a GPU); see docs/benchmarks.md."""
    max_queue_size: int = Field(4096, ge=1)
    """Most inputs waiting; beyond it calls get RESOURCE_EXHAUSTED at once. Keep it well
    above `max_inputs_per_request` (1024): when they were equal, one allowed call filled
    the queue and every other caller was refused until it finished."""


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


class RuntimeOptions(BaseModel):
    """Options of one runtime. Each runtime declares its own subclass with a docstring per
    field; a key the runtime does not declare is an error, never ignored."""

    model_config = ConfigDict(extra="forbid")


class TextOptions(RuntimeOptions):
    """Options every runtime that runs batches of texts through an encoder has."""

    max_padded_tokens: int = Field(16384, ge=1)
    """Most tokens in one forward pass, padding included (inputs x the longest of them):
    a batch is split into groups of similar length under it, bounding activation memory."""


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
    use_shipped_onnx: bool = True
    """Serve the ONNX file the model folder ships (`onnx/model.onnx` or `model.onnx`, as
    sentence-transformers and Optimum lay them out) instead of exporting one; it is
    checked against torch at load like an export. false: always export."""
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
    """One model to serve (an entry of the YAML model config). Each runtime subclasses it
    with `runtime: Literal["<its name>"]` and `options: <its RuntimeOptions>`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    """Name clients use in `ModelRef.name`."""
    version: str = "1"
    """Version clients may pin in `ModelRef.version`."""
    runtime: str
    """Which runtime loads it, e.g. `sentence-embedding` (each service lists its own)."""
    path: Path | None = None
    """Local folder in Hugging Face layout."""
    package: str | None = None
    """Or: a Python package that ships the folder and exposes `get_model_path()`; one that
    builds the folder on first use takes `cache_dir` (the process's `cache_dir` setting)."""
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
    engine: Literal["auto", "torch", "onnxruntime"] = "auto"
    """What runs the model's forward pass. `torch`: eager PyTorch. `onnxruntime`: the
    model exported once to ONNX (cached under the cache directory), run by ONNX Runtime
    and checked against torch at load; if the export fails or disagrees, the model serves
    with torch and its metadata says why. `auto`: ONNX Runtime where the runtime has an
    ONNX path and the check passes, torch otherwise."""
    engine_options: EngineOptions = Field(default_factory=EngineOptions)
    """How the engine runs (thresholds, threads, quantisation, shape buckets)."""
    options: RuntimeOptions = Field(default_factory=RuntimeOptions)
    """The runtime's options, typed and documented by each runtime."""
    load: Literal["startup", "on_demand"] = "startup"
    """`startup`: loaded when the process starts. `on_demand`: in the catalogue only
    (listed as NOT_LOADED, registered with the router) and loaded when a call needs it,
    within the process's memory budget; it may be evicted again when idle."""
    pinned: bool = False
    """Never evicted to make room for another model (it still counts in the budget)."""
    size_bytes: PositiveBytes | None = None
    """Memory the model is expected to take (e.g. `300MiB`), instead of the estimate from
    its weight files and dtype; replaced by the measured size once it has loaded."""

    needs_folder: ClassVar[bool] = True
    """Whether the runtime loads from a model folder (`path` or `package`)."""
    follows_default_device: ClassVar[bool] = True
    """Whether `device: auto` takes the process's `default_device` (runtimes that run on
    torch); runtimes that run on the CPU whatever the process has (spaCy, RapidOCR on the
    CPU build of ONNX Runtime) keep their own `auto`."""

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if self.path is not None and self.package is not None:
            raise ValueError("set `path` or `package`, not both")
        if self.path is None and self.package is None and self.needs_folder:
            raise ValueError("set `path` (the model folder) or `package`")
        return self

    def resolve_path(self, cache_dir: Path) -> Path:
        """The local folder the weights load from; a package that builds its folder on
        first use builds it under `cache_dir`."""
        if self.path is not None:
            return self.path
        if self.package is None:
            raise ValueError(f"model {self.name!r} needs `path` or `package`")
        get_model_path = importlib.import_module(self.package).get_model_path
        if "cache_dir" in inspect.signature(get_model_path).parameters:
            return Path(get_model_path(cache_dir=cache_dir))
        return Path(get_model_path())


def with_default_device(spec: ModelSpec, default: Literal["auto", "cpu", "cuda"]) -> ModelSpec:
    """`spec` with `device: auto` replaced by the process's `default` where its runtime
    follows it (`follows_default_device`); any other spec as it is."""
    if default == "auto" or spec.device != "auto" or not spec.follows_default_device:
        return spec
    return spec.model_copy(update={"device": default})


@dataclass(frozen=True)
class Runtime:
    """One runtime a service serves.

    `spec` is the `ModelSpec` subclass of its models: the value of its `runtime` Literal
    is the runtime's name and its `options` field the runtime's options. `model` names the
    model class as `module:Class`; it is imported only when the service builds its
    repository, after the process is configured (torch must not load with the settings).
    """

    spec: type[ModelSpec]
    model: str

    @property
    def name(self) -> str:
        (name,) = get_args(self.spec.model_fields["runtime"].annotation)
        return str(name)

    @property
    def options(self) -> type[RuntimeOptions]:
        options: type[RuntimeOptions] = self.spec.model_fields["options"].annotation  # type: ignore[assignment]
        return options


class Runtimes:
    """The runtimes of one service by name: the single source of both its model config (the
    union of the runtimes' spec classes, discriminated on `runtime`) and its repository's
    model classes."""

    def __init__(self, *runtimes: Runtime) -> None:
        self._by_name = {r.name: r for r in runtimes}
        if len(self._by_name) != len(runtimes):
            raise ValueError("two runtimes share a name")
        self._adapter: TypeAdapter[ModelSpec] | None = None
        if runtimes:
            union: Any = Union[tuple(r.spec for r in runtimes)]  # noqa: UP007
            self._adapter = TypeAdapter(Annotated[union, Field(discriminator="runtime")])

    def __iter__(self) -> Iterator[Runtime]:
        return iter(self._by_name.values())

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def spec(self, value: object, where: str = "model") -> ModelSpec:
        """`value` (a mapping from the model config, or a `ModelSpec`) as an instance of its
        runtime's spec class; anything else is a `ConfigError` naming `where`, the model
        and the field."""
        if isinstance(value, ModelSpec):
            runtime = self._by_name.get(value.runtime)
            if runtime is not None and isinstance(value, runtime.spec):
                return value
            value = value.model_dump(exclude_unset=True)
        name = value.get("name") if isinstance(value, Mapping) else None
        where = f"{where} {name!r}" if isinstance(name, str) and name else where
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: a model spec is a mapping, not {type(value).__name__}")
        runtime_name = value.get("runtime")
        if runtime_name is None or runtime_name not in self._by_name or self._adapter is None:
            what = "is required" if runtime_name is None else f"unknown runtime {runtime_name!r}"
            raise ConfigError(f"{where}: runtime: {what}; known: {', '.join(self.names())}")
        try:
            return self._adapter.validate_python(value)
        except ValidationError as exc:
            raise ConfigError(f"{where}: {describe(exc, skip=runtime_name)}") from None

    def specs(self, values: Iterable[object], where: str = "models") -> list[ModelSpec]:
        """Every entry typed (see `spec`); a name and version listed twice is an error."""
        specs: list[ModelSpec] = []
        seen: dict[tuple[str, str], int] = {}
        for index, value in enumerate(values):
            spec = self.spec(value, f"{where}[{index}]")
            key = (spec.name, spec.version)
            if key in seen:
                raise ConfigError(
                    f"{where}[{index}] {spec.name!r}: version {spec.version!r} is also "
                    f"{where}[{seen[key]}]"
                )
            seen[key] = index
            specs.append(spec)
        return specs


def describe(error: ValidationError, skip: object = None) -> str:
    """A pydantic validation error on one line: `field.path: message; ...`. `skip` is a
    leading location element to leave out (a discriminated union's tag)."""
    parts = []
    for e in error.errors():
        loc = list(e["loc"])
        if loc and loc[0] == skip:
            loc = loc[1:]
        field = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in loc).lstrip(".")
        message = str(e["ctx"]["error"]) if e["type"] == "value_error" else e["msg"]
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


def default_cache_dir() -> Path:
    """`~/.cache/modelport`: where `cache_dir` points unless set."""
    return Path.home() / ".cache" / "modelport"


class CacheSettings(BaseSettings):
    """`MODELPORT_CACHE_DIR` alone, for tools that only need to find the cache (the suite
    saying whether gemma will be converted, `make models`)."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    cache_dir: Path = Field(default_factory=default_cache_dir)
    """As `ServerSettings.cache_dir`."""


class ServerSettings(CommonSettings):
    """Settings of one inference process. Each service subclasses it with its `runtimes`."""

    runtimes: ClassVar[Runtimes] = Runtimes()
    """The runtimes this service serves: the model config is read against them."""

    models_file: Path | None = None
    """YAML file with a `models:` list of model specs; unset serves the built-in default.
    Set it or `models`, not both."""
    models: list[ModelSpec] = Field(default_factory=list)
    """Model specs (read from `models_file` when that is set)."""
    cache_dir: Path = Field(default_factory=default_cache_dir)
    """Where model folders built on first use are kept (gemma's, converted once from its
    GGUF package, ~1.1 GB); it must be writable."""
    max_inputs_per_request: int = Field(1024, ge=1)
    """Most inputs (texts, images) one call may carry."""
    max_input_bytes: int = Field(1024 * 1024, ge=1)
    """Most UTF-8 bytes of one text input; above it the call is INVALID_ARGUMENT naming
    the input. (Models read only their first or last tokens: a text is never tokenised
    whole, but it is held in memory while the call is served.) A whole call is bounded by
    `max_message_bytes`."""
    torch_threads: int = Field(0, ge=0)
    """Intra-op threads for model compute; 0 means one per CPU core."""
    default_device: Literal["auto", "cpu", "cuda"] = "auto"
    """The device of every model whose spec says `device: auto` and whose runtime runs on
    torch (the built-in defaults included; spaCy and RapidOCR keep the CPU). `cuda` on a
    GPU pod: a model that cannot use CUDA FAILS and the process never reports SERVING,
    instead of silently serving on the CPU (the chart sets it on backends with
    `gpu.count > 0`). `auto`: CUDA when torch sees it, else CPU."""
    memory_budget: PositiveBytes | None = None
    """Most host memory (e.g. `2GiB`) this process's CPU models may take together; unset:
    no budget (every configured model loads). Each model counts with the estimate from its
    weight files and dtype until it has loaded, then with its measured size. A load that
    does not fit evicts idle, unpinned models, least recently used first; if that is not
    enough it fails with RESOURCE_EXHAUSTED, and the repository never exceeds the budget."""
    gpu_memory_budget: PositiveBytes | None = None
    """The same budget for each GPU (CUDA models count on the GPU they run on)."""
    eviction_grace_s: float = Field(0.1, ge=0)
    """An evicted model keeps serving calls this long after the router was told (calls it
    sent just before are still on the wire), and then until no call holds it. Each load
    that evicts waits for it, so keep it short."""
    max_pending_loads: int = Field(4, ge=1)
    """Most loads waiting for this process's (one at a time) loader; beyond it a load is
    RESOURCE_EXHAUSTED at once (the router tries another replica)."""
    warmup: bool = True
    """Run each model's warm-up (a batch, or a short generation) through its scheduler
    before the model reports READY."""
    prepare_only: bool = False
    """Load every model once, without serving, then exit: 0 when all loaded, 1 when one
    failed. What a model builds on first use (gemma's folder converted from its GGUF,
    ONNX exports) lands in `cache_dir`, so a shared cache is filled once (the chart's
    prepare Job) instead of in every pod at start."""
    explain_max_running: int = Field(1, ge=1)
    """Explanations (`Explain` RPCs) computed at once in this process. Each runs on its
    model's worker thread, a piece (a batch of steps) at a time, only while no inference
    input waits for that model: explanations never hold inference back by more than one
    piece."""
    explain_max_waiting: int = Field(4, ge=0)
    """Explanations waiting for a slot beyond `explain_max_running`; more are
    RESOURCE_EXHAUSTED at once (inference calls are not affected)."""
    explain_default_steps: int = Field(50, ge=1)
    """Integrated-gradients steps when a request leaves `steps` at 0."""
    explain_max_steps: int = Field(512, ge=1)
    """Most integrated-gradients steps a request may ask for; above it is
    INVALID_ARGUMENT."""
    explain_batch_size: int = Field(8, ge=1)
    """Integrated-gradients steps or occlusion inputs in one piece of work: an inference
    call arriving while an explanation computes waits for at most one such piece, and
    deadlines and cancellation are checked between pieces."""
    explain_max_passes: int = Field(4096, ge=1)
    """Most forward passes one occlusion may take (windows of an image, tokens of a
    text); a request needing more is INVALID_ARGUMENT naming `window` or `stride`."""
    router_address: str | None = None
    """Router to register this process's models with (`host:port`); unset: no registration."""
    advertise_address: str | None = None
    """Address the router should call this process at; unset: `host:port` (with
    127.0.0.1 for a wildcard host). In Kubernetes set it to the pod IP and port."""
    lease_ttl_s: float = Field(10.0, gt=0)
    """Lease asked of the router; renewed every third of it."""
    deregistration_grace_s: float = Field(0.5, ge=0)
    """On SIGTERM, after deregistering from the router: keep accepting calls this long, so
    calls the router sent just before it removed this replica are served (then
    `drain_delay_s`, then in-flight calls finish)."""
    router_token: str | None = None
    """Bearer token this backend registers with when the router has auth on: a `registrar`
    token bound to this backend's advertised endpoint (or `same_host`)."""
    router_token_file: Path | None = None
    """File holding `router_token` (a mounted Secret, say); set one of the two."""
    router_tls_ca_file: Path | None = None
    """PEM CA bundle to verify the router's TLS certificate; unset: plaintext to the router
    (refused with a `router_token` when this backend serves TLS itself)."""
    router_tls_cert_file: Path | None = None
    """This backend's client certificate towards a router that requires mTLS; with the
    router's `auth_tls_identities` mapping it to a registrar, no `router_token` is needed."""
    router_tls_key_file: Path | None = None
    """The private key of `router_tls_cert_file`."""

    def explain_limits(self) -> ExplainLimits:
        """The limits of `Explain` calls (see the `explain_*` settings)."""
        return ExplainLimits(
            self.explain_max_running,
            self.explain_max_waiting,
            self.explain_default_steps,
            self.explain_max_steps,
            self.explain_batch_size,
            self.explain_max_passes,
        )

    def text_limits(self) -> TextLimits:
        """The limits the text services check each call's texts against."""
        return TextLimits(self.max_inputs_per_request, self.max_input_bytes)

    def advertised(self, port: int) -> str:
        """The `host:port` the router should call, given the port actually bound."""
        if self.advertise_address:
            return self.advertise_address
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "[::]") else self.host
        return f"{host}:{port}"

    @model_validator(mode="after")
    def _router_token_from_file(self) -> ServerSettings:
        if self.router_token_file is not None:
            if self.router_token:
                raise ValueError("set router_token or router_token_file, not both")
            token = self.router_token_file.read_text().strip()
            if not token:
                raise ValueError(f"{self.router_token_file}: router_token_file is empty")
            self.router_token = token
        return self

    @model_validator(mode="after")
    def _router_client_certificate(self) -> ServerSettings:
        if (self.router_tls_cert_file is None) != (self.router_tls_key_file is None):
            raise ValueError("set router_tls_cert_file and router_tls_key_file together")
        if self.router_tls_cert_file is not None and self.router_tls_ca_file is None:
            raise ValueError("router_tls_cert_file needs router_tls_ca_file (TLS to the router)")
        return self

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

    @model_validator(mode="before")
    @classmethod
    def _typed_models(cls, data: Any) -> Any:
        """Read `models_file`, and type every model spec with this service's runtimes."""
        if not isinstance(data, dict):
            return data
        models_file = data.get("models_file")
        if models_file is not None:
            if data.get("models") is not None:
                raise ConfigError(
                    "models_file and models are both set (MODELPORT_MODELS_FILE and "
                    "MODELPORT_MODELS): set one"
                )
            data = {**data, "models": read_models_file(Path(models_file))}
        if data.get("models") is not None:
            models = data["models"]
            if not isinstance(models, list | tuple):
                raise ConfigError(f"models: a list of model specs, not {type(models).__name__}")
            data = {**data, "models": cls.runtimes.specs(models)}
        return data


def read_models_file(path: Path) -> list[Any]:
    """The `models:` list of a YAML model config; anything else in it is an error."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"models_file {str(path)!r}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or set(data) != {"models"}:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"models_file {str(path)!r}: needs one key, `models:`; found {keys}")
    models = data["models"]
    if not isinstance(models, list) or not models:
        raise ConfigError(f"models_file {str(path)!r}: `models:` must list at least one model")
    return models
