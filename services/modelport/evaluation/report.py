"""The report of an evaluation: gates (`--fail-under`), JSON and Markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADLINE = {
    "classification": ("accuracy", "macro_f1", "micro_f1", "weighted_f1"),
    "token-classification": ("f1", "precision", "recall", "macro_f1"),
    "retrieval": ("ndcg_at_10", "mrr", "recall_at_1", "recall_at_5", "recall_at_10"),
    "image-classification": ("top1", "top5"),
}


def parse_gate(text: str) -> tuple[str, float]:
    """`METRIC=VALUE` → (metric, value); ValueError naming what is wrong."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"{text!r}: expected METRIC=VALUE (e.g. accuracy=0.8)")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise ValueError(f"{text!r}: {value!r} is not a number") from None


def gate_names(report: dict[str, Any]) -> list[str]:
    """The metrics a gate may name: every number among the report's metrics."""
    return sorted(
        k for k, v in report["metrics"].items() if isinstance(v, int | float) and k != "n"
    )


def apply_gates(report: dict[str, Any], gates: list[tuple[str, float]]) -> bool:
    """Add `gates` (each metric ≥ its minimum) and `pass` to the report; KeyError for a
    metric the task does not have."""
    results = []
    for name, minimum in gates:
        if name not in gate_names(report):
            raise KeyError(
                f"--fail-under {name}: not a metric of {report['task']}; one of "
                + ", ".join(gate_names(report))
            )
        value = float(report["metrics"][name])
        results.append({"metric": name, "min": minimum, "value": value, "pass": value >= minimum})
    report["gates"] = results
    report["pass"] = all(g["pass"] for g in results)
    return bool(report["pass"])


def _f(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def markdown(report: dict[str, Any]) -> str:
    """A human-readable report: headline metrics, per-class or per-type tables, the
    confusion matrix, latency, errors and gates."""
    m = report["metrics"]
    data = report["dataset"]
    versions = ", ".join(f"{v or '?'} ({n} inputs)" for v, n in report["versions"].items())
    lines = [
        f"# Evaluation of `{report['model']}` ({report['task']})",
        "",
        f"- model version: {versions or report['version'] or 'unknown'}",
        f"- target: `{report['target']}`",
        f"- dataset: `{data['path']}` (sha256 `{data['sha256'][:16]}…`, {data['n']} records, "
        f"{data['evaluated']} evaluated)",
    ]
    if "corpus" in data:
        corpus = data["corpus"]
        lines.append(f"- corpus: {corpus['n']} documents (sha256 `{corpus['sha256'][:16]}…`)")
    lines += [
        f"- seed {report['seed']}, limit {report['limit'] or 'none'}, concurrency "
        f"{report['concurrency']}, batch size {report['batch_size']}",
        f"- started {report['started_at']}, took {report['duration_s']:.1f} s "
        f"(modelport {report['modelport_version']})",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {_f(m[k])} |" for k in HEADLINE[report["task"]] if k in m]
    lines += [f"| success_rate | {_f(m['success_rate'])} |", ""]
    if "per_class" in m:
        lines += [
            "| label | precision | recall | F1 | support |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {label} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | "
            f"{v['support']} |"
            for label, v in m["per_class"].items()
        ]
        labels = m["labels"]
        lines += ["", "Confusion matrix (rows: true, columns: predicted):", ""]
        lines += ["| | " + " | ".join(labels) + " |", "| --- " * (len(labels) + 1) + "|"]
        lines += [
            f"| **{t}** | " + " | ".join(str(n) for n in row) + " |"
            for t, row in zip(labels, m["confusion_matrix"], strict=True)
        ]
        lines.append("")
    if "per_type" in m:
        lines += [
            "| type | precision | recall | F1 | gold | predicted |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {t} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | "
            f"{v['support']} | {v['predicted']} |"
            for t, v in m["per_type"].items()
        ]
        lines.append("")
    lat, err = report["latency"], report["errors"]
    lines += [
        f"Latency per call ({lat['calls']} calls): p50 {lat['p50_ms']:.1f} ms, "
        f"p90 {lat['p90_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms",
        "",
        f"Errors: {err['failed_calls']} of {err['calls']} calls failed"
        + (
            " (" + ", ".join(f"{k} {v}" for k, v in err["by_status"].items()) + "), "
            f"{err['failed_inputs']} inputs not scored"
            if err["failed_calls"]
            else ""
        ),
    ]
    if report.get("gates"):
        lines += ["", "| gate | minimum | value | |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {g['metric']} | {g['min']:g} | {g['value']:.4f} | "
            f"{'pass' if g['pass'] else '**FAIL**'} |"
            for g in report["gates"]
        ]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], prefix: Path) -> tuple[Path, Path]:
    """`prefix`.json and `prefix`.md; returns their paths."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path = prefix.with_name(prefix.name + ".json")
    md_path = prefix.with_name(prefix.name + ".md")
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path


def summary(report: dict[str, Any]) -> str:
    """One line: the headline metrics, latency and errors."""
    m = report["metrics"]
    figures = ", ".join(f"{k} {m[k]:.4f}" for k in HEADLINE[report["task"]] if k in m)
    lat = report["latency"]
    err = report["errors"]
    return (
        f"{report['model']} v{report['version']} on {report['dataset']['evaluated']} "
        f"examples: {figures}; p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms; "
        f"{err['failed_calls']} of {err['calls']} calls failed"
    )
