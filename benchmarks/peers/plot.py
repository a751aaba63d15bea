"""Plot benchmarks/results/peers.json into docs/benchmarks-peers.png.

Two panels against concurrency: throughput (sentences/s, with the in-process `encode`
limit, and the ONNX Runtime engine's where the run measured it, as horizontal lines) and
p99 latency (ms, log scale). One line per server.

matplotlib is not a project dependency: setup.sh puts it in a small venv of its own.

    ~/.cache/modelport/peers/plot/bin/python benchmarks/peers/plot.py [results.json] [out.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
STYLE = {
    "modelport": ("tab:blue", "o"),
    "mlserver-defaults": ("tab:orange", "s"),
    "mlserver-tuned": ("tab:red", "D"),
    "infinity": ("tab:green", "^"),
    "infinity-onnx": ("tab:olive", "v"),
    "modelport-torch": ("tab:cyan", "P"),
}


def plot(results: dict[str, Any], out: Path) -> None:
    import matplotlib  # type: ignore[import-not-found, unused-ignore]

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]

    fig, (rate_ax, p99_ax) = plt.subplots(1, 2, figsize=(12, 4.8))
    levels: set[int] = set()
    for server in results["servers"]:
        runs = server["runs"]
        if server.get("error") or not runs:
            continue
        color, marker = STYLE.get(server["name"], (None, "x"))
        x = [r["concurrency"] for r in runs]
        levels.update(x)
        kwargs = {"color": color, "marker": marker, "label": server["label"]}
        rate_ax.plot(x, [r["rate"] for r in runs], **kwargs)
        p99_ax.plot(x, [r["p99_ms"] for r in runs], **kwargs)

    limit = results["limit"]
    rate_ax.axhline(
        limit["rate"],
        color="black",
        linestyle="--",
        label=f"in-process encode, batch 32 ({limit['rate']:.0f}/s, mean of the run)",
    )
    if engine := results.get("engine_limit"):
        rate_ax.axhline(
            engine["rate"],
            color="gray",
            linestyle=":",
            label=f"in-process ONNX Runtime engine, batch 32 ({engine['rate']:.0f}/s)",
        )
    ticks = sorted(levels)
    for ax in (rate_ax, p99_ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("concurrent callers (1 sentence per call)")
        ax.grid(True, which="both", alpha=0.3)
    rate_ax.set_ylabel("sentences/s")
    rate_ax.set_ylim(bottom=0)
    rate_ax.set_title("Throughput")
    rate_ax.legend(fontsize=8, loc="best")
    p99_ax.set_yscale("log")
    p99_ax.set_ylabel("p99 latency (ms)")
    p99_ax.set_title("p99 latency")

    m, s = results["machine"], results["settings"]
    fig.suptitle(
        f"{s['model']} on {m['cores']} CPU cores ({m['cpu_model']}), "
        f"{s['torch_threads']} torch threads per server, {s['sentences']} calls per level",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "benchmarks/results/peers.json"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "docs/benchmarks-peers.png"
    plot(json.loads(source.read_text()), out)


if __name__ == "__main__":
    main()
