"""Keep the headline cells of some evaluation reports side by side, as a benchmark JSON.

    python benchmarks/report_cells.py --label "balanced (default)" --label "every edge once" \\
        DIR/reports/eval/V1/report.json DIR/reports/eval/V2/report.json --out benchmarks/results/X.json

For comparing `gfm run`s that differ by one setting on the same data: for every model and content
type it copies HR@10 (all users), HR@10 of the users cold in that type, and the new-item tier's
HR@10, with the cell sizes, and it records each report's version and the HGNN's training settings
it differs by. It trains nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def cells(report: dict[str, Any], k: int = 10) -> dict[str, Any]:
    """Per model and type: all / cold-in-type / new-tier HR@k with their user counts."""
    metric = f"hr@{k}"
    out: dict[str, Any] = {}
    for model, body in report["models"].items():
        out[model] = {
            t: {
                "all": c[metric],
                "cold_in_type": c["cold_in_type"][metric],
                "new_tier": c["tiers"]["new"].get(metric),
                "n_users": c["n_users"],
                "n_cold_in_type": c["cold_in_type"]["n_users"],
            }
            for t, c in body.get("by_type", {}).items()
        }
    return out


def main() -> None:
    """Read the reports named on the command line and write their cells."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("reports", type=Path, nargs="+", help="report.json files (reports/eval/<version>/)")
    parser.add_argument("--label", action="append", default=[], help="one label per report, in order")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    args = parser.parse_args()
    if len(args.label) != len(args.reports):
        parser.error(f"give one --label per report ({len(args.reports)} reports, {len(args.label)} labels)")
    runs = []
    for label, path in zip(args.label, args.reports, strict=True):
        report = json.loads(path.read_text())
        runs.append(
            {"label": label, "report": str(path), "version": report.get("version"), "cells": cells(report)}
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
