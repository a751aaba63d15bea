"""The ONNX Runtime engine: the torch graph exported once, cached, run by ONNX Runtime.

A model folder that ships an ONNX file of the forward pass (`Graph.shipped`) is served
from that file instead, unless `engine_options.use_shipped_onnx` is false.

The export is keyed by the weights' hash, the exporter (torch version, opset, this
module's recipe) and the ONNX Runtime version, and lives under
`<cache dir>/onnx/<key>/`: `model.onnx` (fp32, transformer fusions applied where the
graph names a `TransformerShape`), `model.int8.onnx` when int8 was asked for, and
`export.json` saying what made them (a shipped file's int8 sibling is cached under
`<cache dir>/onnx/shipped-<key>/`, keyed by the file's hash). A cached folder is reused
as it is; a folder being written is never seen half done (it is built aside and renamed
into place).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from modelport.ml.engines.base import Engine, EngineChoice, Graph, Inputs

log = logging.getLogger(__name__)

OPSET = 17
RECIPE = 2
"""Bump when the export steps below change, so older cached graphs are not reused."""


class EngineUnavailable(Exception):
    """The ONNX Runtime engine cannot run this graph here (the reason is the message)."""


def fingerprint(paths: tuple[Path, ...]) -> str:
    """SHA-256 over the files' names and bytes."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def module_fingerprint(module: torch.nn.Module) -> str:
    """SHA-256 over a module's class and state (for models built in code, not files)."""
    digest = hashlib.sha256(f"{type(module).__module__}.{type(module).__qualname__}".encode())
    for name, tensor in module.state_dict().items():
        digest.update(f"\0{name}:{tensor.dtype}:{tuple(tensor.shape)}\0".encode())
        digest.update(
            tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        )
    return digest.hexdigest()


def export_recipe(graph: Graph) -> dict[str, Any]:
    """Everything besides the weights that decides the exported file."""
    import onnxruntime

    return {
        "exporter": f"torch {torch.__version__} torchscript",
        "opset": OPSET,
        "recipe": RECIPE,
        "onnxruntime": onnxruntime.__version__,
        "inputs": list(graph.inputs),
        "output": graph.module.output_name,
        "dynamic_axes": {
            name: {str(axis): label for axis, label in axes.items()}
            for name, axes in graph.dynamic_axes.items()
        },
        "fusion": None if graph.fusion is None else vars(graph.fusion),
    }


def cache_folder(graph: Graph, cache_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Where this graph's export lives, and what it records."""
    if graph.weights:
        weights = fingerprint(graph.weights)
    else:
        weights = module_fingerprint(graph.module.model)
    record = {"weights_sha256": weights, **export_recipe(graph)}
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]
    return cache_dir / "onnx" / key, record


def export(graph: Graph, folder: Path, record: dict[str, Any]) -> None:
    """Export `graph` to `folder/model.onnx` (built aside, renamed into place)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the export from other users
    try:
        raw = staging / "raw.onnx"
        example = tuple(graph.probe[0][name] for name in graph.inputs)
        started = time.perf_counter()
        with graph.export_mode(), torch.no_grad(), warnings.catch_warnings():
            # The tracer warns about Python-side shape checks in transformers; the probe
            # check at load is what tells whether the traced graph generalises.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph.module,
                example,
                str(raw),
                input_names=list(graph.inputs),
                output_names=["output"],
                dynamic_axes=graph.dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        model = staging / "model.onnx"
        fused = "not asked" if graph.fusion is None else fuse(raw, model, graph)
        if model.exists():
            raw.unlink()  # the fused graph replaces it; the cache keeps one copy
        else:
            raw.rename(model)
        seconds = round(time.perf_counter() - started, 2)
        record = {**record, "fused": fused, "export_seconds": seconds}
        (staging / "export.json").write_text(json.dumps(record, indent=2, sort_keys=True))
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / "model.onnx").exists():
                raise
            # Another process exported the same graph first; its copy is as good.
        log.info(
            "exported %s to ONNX in %.1f s (fusions: %s)",
            folder.name,
            record["export_seconds"],
            fused,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fuse(raw: Path, out: Path, graph: Graph) -> str:
    """ONNX Runtime's transformer fusions into `out` (left absent when they fail);
    returns which fired, or why none did."""
    assert graph.fusion is not None
    try:
        from onnxruntime.transformers.fusion_options import FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        for logger in list(logging.root.manager.loggerDict):
            # The fusion scripts log every step at INFO under their module names.
            if logger.startswith(("fusion", "onnx_model")):
                logging.getLogger(logger).setLevel(logging.WARNING)
        shape = graph.fusion
        with contextlib.redirect_stdout(None), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = optimize_model(
                str(raw),
                model_type=shape.model_type,
                num_heads=shape.num_heads,
                hidden_size=shape.hidden_size,
                optimization_options=FusionOptions(shape.model_type),
                opt_level=0,
                use_gpu=False,
            )
        model.save_model_to_file(str(out))
    except Exception as exc:  # the unfused graph still runs; the probe check decides
        log.warning("transformer fusions failed, keeping the plain export: %s", exc)
        return f"failed: {type(exc).__name__}"
    stats = model.get_fused_operator_statistics()
    fired = ", ".join(f"{op} {n}" for op, n in sorted(stats.items()) if n)
    return fired or "none matched"


def quantize_int8(fp32: Path, out: Path) -> None:
    """Dynamic int8 quantisation: int8 weights with one scale per output channel,
    activations quantised per batch at run time (built aside, renamed into place)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    staging = out.with_name(f".{out.name}.{time.monotonic_ns()}")
    try:
        quantize_dynamic(
            str(fp32),
            str(staging),
            weight_type=QuantType.QInt8,
            # One scale per output channel: on all-MiniLM-L6-v2 the mean cosine to fp32
            # went from 0.965 (one scale per tensor) to 0.993, and it ran faster.
            per_channel=True,
            # Shape inference knows no types for the fused contrib ops' outputs.
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
        staging.replace(out)
    finally:
        staging.unlink(missing_ok=True)


class OnnxRuntimeEngine(Engine):
    """Runs an exported graph in an `onnxruntime.InferenceSession`."""

    kind = "onnxruntime"

    ZERO_INPUTS = frozenset({"token_type_ids"})
    """Inputs a graph may take beyond the runtime's, fed as zeros like `input_ids` (BERT
    exports that ship with segment ids: one segment)."""

    def __init__(
        self, session: Any, path: Path, threads: int, precision: str, graph: Graph
    ) -> None:
        super().__init__()
        self.session = session
        self.path = path
        self.threads = threads
        self.precision = precision
        self.source = "exported"
        """`exported`, or `shipped <path>` for a file the model folder ships."""
        self.int8_path = path.with_name("model.int8.onnx")
        """Where the int8 sibling of this graph is (or would be) cached."""
        self.input_names = [i.name for i in session.get_inputs()]
        self.zero_inputs = [n for n in self.input_names if n not in graph.inputs]
        unknown = sorted(set(self.zero_inputs) - self.ZERO_INPUTS)
        if unknown:
            raise EngineUnavailable(
                f"the ONNX graph {path} takes inputs the runtime does not make: "
                f"{', '.join(unknown)}"
            )
        outputs = [o.name for o in session.get_outputs()]
        wanted = graph.module.output_name
        self.output_name = wanted if wanted in outputs else outputs[0]

    @classmethod
    def load(cls, graph: Graph, choice: EngineChoice) -> OnnxRuntimeEngine:
        """The fp32 engine: export (or reuse the cached export), then open a session."""
        if choice.device.type != "cpu":
            raise EngineUnavailable(
                f"the ONNX Runtime engine runs on CPU here (device is {choice.device.type})"
            )
        if choice.dtype != torch.float32:
            raise EngineUnavailable(
                f"the ONNX Runtime engine runs float32 (dtype is {choice.dtype})"
            )
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable("onnxruntime is not installed") from exc
        if graph.shipped is not None and choice.options.use_shipped_onnx:
            return cls.shipped(graph, choice, graph.shipped)
        folder, record = cache_folder(graph, choice.cache_dir)
        path = folder / "model.onnx"
        if path.exists():
            log.info("using the cached ONNX export %s", path)
        else:
            log.info("exporting to ONNX once into %s", folder)
            export(graph, folder, record)
        return cls.open(path, choice, "fp32", graph)

    @classmethod
    def shipped(cls, graph: Graph, choice: EngineChoice, path: Path) -> OnnxRuntimeEngine:
        """The fp32 engine on the ONNX file the model folder ships (nothing exported)."""
        import onnxruntime

        log.info("using the ONNX file the model folder ships: %s", path)
        key = hashlib.sha256(
            f"{fingerprint((path,))}\0{onnxruntime.__version__}".encode()
        ).hexdigest()[:32]
        int8 = choice.cache_dir / "onnx" / f"shipped-{key}" / "model.int8.onnx"
        try:
            engine = cls.open(path, choice, "fp32", graph)
        except EngineUnavailable:
            raise
        except Exception as exc:
            raise EngineUnavailable(
                f"the shipped ONNX file {path} cannot be opened: {type(exc).__name__}: {exc}"
            ) from exc
        engine.source, engine.int8_path = f"shipped {path}", int8
        return engine

    @classmethod
    def open(
        cls, path: Path, choice: EngineChoice, precision: str, graph: Graph
    ) -> OnnxRuntimeEngine:
        import onnxruntime as ort

        options = choice.options
        threads = options.threads or torch.get_num_threads()
        session_options = ort.SessionOptions()
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session_options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session_options.intra_op_num_threads = threads
        session_options.inter_op_num_threads = 1
        session_options.log_severity_level = 3
        session_options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if options.allow_spinning else "0"
        )
        for key, value in options.session_config.items():
            session_options.add_session_config_entry(key, value)
        session = ort.InferenceSession(
            str(path),
            session_options,
            providers=[("CPUExecutionProvider", dict(options.provider_options))],
        )
        return cls(session, path, threads, precision, graph)

    def quantized(self, choice: EngineChoice, graph: Graph) -> OnnxRuntimeEngine:
        """The int8 sibling of this fp32 engine (quantised once, cached)."""
        path = self.int8_path
        if not path.exists():
            log.info("quantising %s to int8 once", self.path)
            path.parent.mkdir(parents=True, exist_ok=True)
            quantize_int8(self.path, path)
        int8 = type(self).open(path, choice, "int8", graph)
        int8.source, int8.int8_path = self.source, path
        return int8

    def forward(self, inputs: Inputs) -> torch.Tensor:
        feeds = {
            name: np.ascontiguousarray(inputs[name].numpy())
            for name in self.input_names
            if name not in self.zero_inputs
        }
        if self.zero_inputs:
            zeros = np.zeros_like(
                feeds["input_ids"] if "input_ids" in feeds else next(iter(feeds.values()))
            )
            feeds.update((name, zeros) for name in self.zero_inputs)
        output = self.session.run([self.output_name], feeds)[0]
        return torch.from_numpy(output)

    def details(self) -> dict[str, str]:
        return {
            "engine_provider": self.session.get_providers()[0],
            "engine_threads": str(self.threads),
            "engine_precision": self.precision,
            "engine_source": self.source,
        }
