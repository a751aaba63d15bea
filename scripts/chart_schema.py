"""Write the generated parts of charts/modelport/values.schema.json (`--check` fails when
they are stale).

Hand-written: everything under `properties` but the backends. Generated here:

- `backends.<name>`: `enabled`, `replicaCount`, `models`, and every key of
  `backendDefaults` (a backend may override any of them).
- each backend's `models` items: the service's model specs as the app reads them (its
  `Runtimes`: one pydantic spec class per runtime, discriminated on `runtime`, typed
  options, `extra="forbid"` everywhere), under `definitions`; plus the rule of
  `ModelSpec._one_source` (`path` or `package`, not both).
- root rules between values: a rate limit needs auth; queue-based autoscaling needs a
  Prometheus scrape; the router's keypair needs TLS on; Envoy's data plane needs TLS
  off.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))

from modelport.embedding.settings import EmbeddingSettings  # noqa: E402
from modelport.inference.settings import ServerSettings  # noqa: E402
from modelport.nlp.settings import NlpSettings  # noqa: E402
from modelport.vision.settings import VisionSettings  # noqa: E402

SCHEMA = ROOT / "charts" / "modelport" / "values.schema.json"
SERVICES: dict[str, type[ServerSettings]] = {
    "embedding": EmbeddingSettings,
    "nlp": NlpSettings,
    "vision": VisionSettings,
}
BACKENDS = ("backendDefaults", "embedding", "nlp", "vision")


def _strip(node: Any) -> Any:
    """Drop what draft-07 validators do not need (titles, pydantic's discriminator)."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in ("title", "discriminator")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def model_items(service: type[ServerSettings], definitions: dict[str, Any]) -> dict[str, Any]:
    """The schema of one entry of a service's `models`: `runtime` picks its spec class."""
    rules = []
    for runtime in service.runtimes:
        schema = runtime.spec.model_json_schema(ref_template="#/definitions/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            definition = _strip(definition)
            if definitions.setdefault(name, definition) != definition:
                raise SystemExit(f"two different model schemas are both named {name}")
        spec = _strip(schema)
        if runtime.spec.needs_folder:
            spec["anyOf"] = [{"required": ["path"]}, {"required": ["package"]}]
        spec["not"] = {"required": ["path", "package"]}
        name = runtime.spec.__name__
        if definitions.setdefault(name, spec) != spec:
            raise SystemExit(f"two different model schemas are both named {name}")
        rules.append(
            {
                "if": {"properties": {"runtime": {"const": runtime.name}}, "required": ["runtime"]},
                "then": {"$ref": f"#/definitions/{name}"},
            }
        )
    return {
        "type": "object",
        "required": ["name", "runtime"],
        "properties": {"runtime": {"enum": service.runtimes.names()}},
        "allOf": rules,
    }


def _backend(path: str, value: Any) -> dict[str, Any]:
    """`{"properties": {"backendDefaults": {... path ...}}}` and the same for every
    backend: a condition on one backend value wherever it may be set."""
    *parents, leaf = path.split(".")
    node: dict[str, Any] = {"properties": {leaf: value}, "required": [leaf]}
    for parent in reversed(parents):
        node = {"properties": {parent: node}, "required": [parent]}
    return node


def root_rules() -> list[dict[str, Any]]:
    """Rules between values the templates rely on (each fails `helm install`)."""

    def at(name: str, path: str, value: Any) -> dict[str, Any]:
        """`value` at `path` of backends.<name> (or backendDefaults)."""
        if name == "backendDefaults":
            return {"properties": {name: _backend(path, value)}, "required": [name]}
        inner = {"properties": {name: _backend(path, value)}, "required": [name]}
        return {"properties": {"backends": inner}, "required": ["backends"]}

    def effective(name: str, path: str, value: Any) -> dict[str, Any]:
        """The backend's own value at `path` is `value`, or it has none and
        backendDefaults' is (the merge the templates do)."""
        inherited = {"allOf": [{"not": at(name, path, {})}, at("backendDefaults", path, value)]}
        return {"anyOf": [at(name, path, value), inherited]}

    queue = [
        {
            "allOf": [
                {"not": at(name, "enabled", {"const": False})},
                {"not": effective(name, "autoscaling.enabled", {"const": False})},
                {
                    "anyOf": [
                        effective(name, "autoscaling.metric", {"const": "queue"}),
                        {
                            "allOf": [
                                effective(name, "autoscaling.metric", {"const": "auto"}),
                                effective(name, "gpu.count", {"type": "integer", "minimum": 1}),
                            ]
                        },
                    ]
                },
            ]
        }
        for name in SERVICES
    ]
    scraped = {
        "anyOf": [
            {"properties": {"metrics": _backend("serviceMonitor.enabled", {"const": True})}},
            {"properties": {"metrics": _backend("scrapeAnnotations", {"const": True})}},
        ]
    }
    return [
        {
            "$comment": "a rate limit needs tokens: without auth every caller is anonymous",
            "if": {
                "properties": {
                    "security": {
                        "properties": {
                            "rateLimitPerSecond": {"exclusiveMinimum": 0},
                            "auth": _backend("enabled", {"const": False}),
                        },
                        "required": ["rateLimitPerSecond", "auth"],
                    }
                },
                "required": ["security"],
            },
            "then": {
                "properties": {
                    "security": {
                        "properties": {
                            "rateLimitPerSecond": {
                                "const": 0,
                                "description": "security.rateLimitPerSecond needs "
                                "security.auth.enabled (a rate limit is per identity)",
                            }
                        }
                    }
                }
            },
        },
        {
            "$comment": "queue-based autoscaling needs Prometheus to scrape the pods",
            "if": {"anyOf": queue},
            "then": scraped,
        },
        {
            "$comment": "the router's own keypair is used only with TLS on",
            "if": {"properties": {"security": _backend("tls.routerSecretName", {"minLength": 1})}},
            "then": {"properties": {"security": _backend("tls.secretName", {"minLength": 1})}},
        },
        {
            "$comment": "Envoy's listener and its link to the router are plaintext",
            "if": {
                "properties": {
                    "router": _backend("dataPlane.enabled", {"const": True}),
                    "security": _backend("tls.secretName", {"minLength": 1}),
                },
                "required": ["router", "security"],
            },
            # helm prints the paths of both, so the error names the two values in conflict.
            "then": {
                "properties": {
                    "router": _backend("dataPlane.enabled", {"const": False}),
                    "security": {
                        "properties": {
                            "tls": {
                                "properties": {
                                    "secretName": {
                                        "maxLength": 0,
                                        "description": "router.dataPlane.enabled needs "
                                        "security.tls.secretName empty: Envoy's listener "
                                        "and its xDS link to the router are plaintext (TLS "
                                        "for the data plane is not implemented yet)",
                                    }
                                }
                            }
                        }
                    },
                }
            },
        },
    ]


def generate(schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    properties = schema["properties"]
    defaults = properties["backendDefaults"]["properties"]
    definitions: dict[str, Any] = {}
    for name, service in SERVICES.items():
        backend = properties["backends"]["properties"][name]
        backend["properties"] = {
            "enabled": {"type": "boolean"},
            "replicaCount": {"type": "integer", "minimum": 0},
            "models": {"type": "array", "items": model_items(service, definitions)},
            **copy.deepcopy(defaults),
        }
    schema["definitions"] = dict(sorted(definitions.items()))
    schema["allOf"] = root_rules()
    return schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    current = json.loads(SCHEMA.read_text())
    fresh = json.dumps(generate(current), indent=2) + "\n"
    if args.check:
        if fresh != SCHEMA.read_text():
            sys.exit("charts/modelport/values.schema.json is stale: run make chart-docs")
        return
    SCHEMA.write_text(fresh)


if __name__ == "__main__":
    main()
