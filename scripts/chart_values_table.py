"""Print the values table of charts/modelport/README.md from the `# --` comments of
values.yaml (`--check` fails when the README's table is stale)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parent.parent / "charts" / "modelport"
BEGIN, END = "<!-- values-table:begin -->", "<!-- values-table:end -->"


def table() -> str:
    lines = (CHART / "values.yaml").read_text().splitlines()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    rows: list[str] = []
    stack: list[str] = []
    comment: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped[4:].strip()]
            continue
        if stripped.startswith("#") and comment:
            comment.append(stripped[1:].strip())
            continue
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        stack = [*stack[:depth], match.group(2)]
        if comment:
            node = values
            for key in stack:
                node = node[key]
            default = yaml.safe_dump(node, default_flow_style=True, width=1000).strip()
            default = default.removesuffix("...").strip().replace("|", "\\|")
            rows.append(f"| `{'.'.join(stack)}` | `{default}` | {' '.join(comment)} |")
            comment = []
    return "\n".join(["| Key | Default | Description |", "|---|---|---|", *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    readme = CHART / "README.md"
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    fresh = text[:start] + "\n" + table() + "\n" + text[end:]
    if args.check:
        if fresh != text:
            sys.exit("charts/modelport/README.md values table is stale: run make chart-docs")
        return
    readme.write_text(fresh)


if __name__ == "__main__":
    main()
