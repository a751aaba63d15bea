"""The `modelport` command: run services, the local suite, and call models."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from modelport.client import ClientError, ModelportClient
from modelport.v1 import common_pb2

SERVICES = ("router", "embedding", "nlp", "vision")
DEFAULT_TARGET = "127.0.0.1:50051"
TOKEN_ENV = "MODELPORT_TOKEN"


def _client(args: argparse.Namespace) -> ModelportClient:
    """The client the connection flags of a client command describe; exits with status 2
    on flags it cannot use (a token over plaintext, a missing certificate file ...)."""
    try:
        metadata = []
        for header in args.header:
            key, sep, value = header.partition("=")
            if not sep or not key:
                raise ValueError(f"--header {header!r}: expected KEY=VALUE")
            metadata.append((key, value))
        return ModelportClient(
            args.target,
            timeout_s=args.timeout,
            tls=args.tls,
            root_certificates=args.tls_ca,
            certificate_chain=args.tls_cert,
            private_key=args.tls_key,
            token=args.token or os.environ.get(TOKEN_ENV) or None,
            allow_insecure_token=args.insecure_token,
            metadata=metadata,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _serve(args: argparse.Namespace) -> int:
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
    return 0


def _up(args: argparse.Namespace) -> int:
    from modelport.suite import Component, Suite, local_suite

    components: list[Component] = local_suite(
        args.host, args.port, args.metrics_port, args.data_dir
    )
    suite = Suite(components)
    print(f"starting the local suite on {args.host}:{args.port} (loading models) ...", flush=True)
    suite.start()
    try:
        failed = suite.wait_ready(args.host, args.timeout, progress=print)
        if failed:
            print(f"not ready in {args.timeout:.0f}s: {', '.join(failed)}", file=sys.stderr)
            return 1
        target = f"{args.host}:{args.port}"
        with ModelportClient(target) as client:
            models = client.wait_for_models([m for c in components for m in c.models])
        _print_models(models)
        print(
            f"\nready: router on {target}, metrics on :{args.metrics_port}/metrics\n"
            f'try:  modelport embed --target {target} "hello world"\n'
            f'      modelport classify --target {target} "I love this"\n'
            f'      modelport generate --target {target} "Once upon a time"\n'
            f"      modelport classify-image --target {target} cat.jpg\n"
            "stop: Ctrl-C",
            flush=True,
        )
        return suite.run_until_signal()
    finally:
        suite.stop()


def _print_models(response: object) -> None:
    print(f"{'MODEL':32} {'VERSION':8} {'TASK':28} STATE")
    for info in getattr(response, "models", []):
        for v in info.versions:
            print(
                f"{info.name:32} {v.version:8} {common_pb2.Task.Name(v.task):28} "
                f"{common_pb2.ModelState.Name(v.state)}"
            )


def _embed(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = client.embed(
            args.texts, model=args.model, version=args.version, dimensions=args.dimensions
        )
    if args.json:
        print(
            json.dumps(
                {
                    "model": result.model,
                    "version": result.version,
                    "embeddings": result.vectors,
                    "input_tokens": result.input_tokens,
                }
            )
        )
    else:
        for text, vector in zip(args.texts, result.vectors, strict=True):
            head = ", ".join(f"{x:+.4f}" for x in vector[:4])
            print(f"{text[:40]!r:44} dim={len(vector)} [{head}, ...]")
        print(f"model {result.model} v{result.version}, {result.input_tokens} tokens")
    return 0


def _print_labels(
    names: Sequence[str], results: list[list[tuple[str, float]]], as_json: bool
) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    name: [{"label": lbl, "score": s} for lbl, s in labels]
                    for name, labels in zip(names, results, strict=True)
                }
            )
        )
        return
    for name, labels in zip(names, results, strict=True):
        shown = "  ".join(f"{label} {score:.3f}" for label, score in labels)
        print(f"{name[:40]!r:44} {shown}")


def _classify(args: argparse.Namespace) -> int:
    with _client(args) as client:
        results = client.classify(args.texts, model=args.model, top_k=args.top_k)
    _print_labels(args.texts, results, args.json)
    return 0


def _classify_image(args: argparse.Namespace) -> int:
    images = [Path(f).read_bytes() for f in args.files]
    with _client(args) as client:
        results = client.classify_images(images, model=args.model, top_k=args.top_k)
    _print_labels(args.files, results, args.json)
    return 0


def _generate(args: argparse.Namespace) -> int:
    with _client(args) as client:
        chunks = client.generate_stream(
            args.prompt,
            model=args.model,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            seed=args.seed,
        )
        if args.json:
            print(json.dumps({"prompt": args.prompt, "text": "".join(chunks)}))
            return 0
        print(args.prompt, end="", flush=True)
        for chunk in chunks:
            print(chunk, end="", flush=True)
        print()
    return 0


def _models(args: argparse.Namespace) -> int:
    from google.protobuf.json_format import MessageToDict

    with _client(args) as client:
        response = client.list_models()
    if args.json:
        print(json.dumps(MessageToDict(response)))
    else:
        _print_models(response)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="modelport", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one service (settings from MODELPORT_* env)")
    serve.add_argument("service", choices=SERVICES)
    serve.set_defaults(func=_serve)

    up = sub.add_parser("up", help="run the local suite with the packaged models")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=50051)
    up.add_argument("--metrics-port", type=int, default=9090)
    up.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for models")
    up.add_argument("--data-dir", default=".modelport", help="router registry directory")
    up.set_defaults(func=_up)

    def client_args(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--target", default=DEFAULT_TARGET, help="router or backend host:port")
        cmd.add_argument("--timeout", type=float, default=30.0, help="deadline in seconds")
        cmd.add_argument("--json", action="store_true", help="print JSON")
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

    embed = sub.add_parser("embed", help="embed texts")
    embed.add_argument("texts", nargs="+")
    embed.add_argument("--model", default="all-MiniLM-L6-v2")
    embed.add_argument("--version", default="")
    embed.add_argument("--dimensions", type=int, default=0)
    client_args(embed)
    embed.set_defaults(func=_embed)

    classify = sub.add_parser("classify", help="classify texts (sentiment by default)")
    classify.add_argument("texts", nargs="+")
    classify.add_argument("--model", default="sentiment")
    classify.add_argument("--top-k", type=int, default=0)
    client_args(classify)
    classify.set_defaults(func=_classify)

    classify_image = sub.add_parser("classify-image", help="classify image files")
    classify_image.add_argument("files", nargs="+")
    classify_image.add_argument("--model", default="efficientnet-lite0")
    classify_image.add_argument("--top-k", type=int, default=3)
    client_args(classify_image)
    classify_image.set_defaults(func=_classify_image)

    generate = sub.add_parser("generate", help="generate text, streamed as it is produced")
    generate.add_argument("prompt")
    generate.add_argument("--model", default="gemma-3-270m")
    generate.add_argument("--max-new-tokens", type=int, default=64)
    generate.add_argument("--temperature", type=float, default=None, help="sample (else greedy)")
    generate.add_argument("--seed", type=int, default=None)
    client_args(generate)
    generate.set_defaults(func=_generate)

    models = sub.add_parser("models", help="list models and their state")
    client_args(models)
    models.set_defaults(func=_models)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
