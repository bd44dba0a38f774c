"""What a patience would have chosen: replays recorded two-tower validation curves.

    python benchmarks/patience.py DIR [DIR ...] --out benchmarks/results/patience_replay.json

Every two-tower checkpoint card whose epoch count was chosen on a validation slice holds the
validation recall after each epoch of its selection run (``metrics.val_recalls``). With
``two_tower.patience`` p the selection run stops once p epochs have passed without a better
recall, so it would have chosen the best epoch of the curve's prefix up to that point. The refit
that follows depends only on the chosen count and the seed, so a run whose choice is unchanged
gives the same model, bit for bit, for fewer selection epochs. This script counts, per patience,
how many recorded runs keep their choice and how many selection epochs they would have trained;
it trains nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from embedding_jobs.two_tower_fit import out_of_patience


def replay(curve: list[float], patience: int) -> tuple[int, int]:
    """(chosen epoch count, epochs trained) of a selection run with ``patience`` (0: all)."""
    seen: list[float] = []
    for value in curve:
        seen.append(value)
        if out_of_patience(seen, patience):  # the selection run's own stopping rule
            break
    return int(np.argmax(seen)) + 1, len(seen)


def curves(data_dirs: list[Path]) -> list[dict[str, Any]]:
    """The recorded validation curves of selection runs that trained every epoch (patience 0)."""
    out = []
    for data_dir in data_dirs:
        for card in sorted((data_dir / "models" / "two_tower").glob("*/card.json")):
            metrics = json.loads(card.read_text()).get("metrics", {})
            if metrics.get("val_recalls"):
                out.append({"card": str(card), "curve": metrics["val_recalls"]})
    longest = max((len(r["curve"]) for r in out), default=0)
    return [r for r in out if len(r["curve"]) == longest]  # runs that trained every epoch


def main() -> None:
    """Replay every curve under each patience and write the counts."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dirs", type=Path, nargs="+")
    parser.add_argument("--patience", type=int, nargs="+", default=[2, 3, 4, 5, 6, 8])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = curves(args.data_dirs)
    full = [replay(r["curve"], 0) for r in runs]
    result: dict[str, Any] = {"n_runs": len(runs), "epochs_per_curve": len(runs[0]["curve"]), "patience": {}}
    for p in args.patience:
        chosen = [replay(r["curve"], p) for r in runs]
        same = sum(c[0] == f[0] for c, f in zip(chosen, full, strict=True))
        result["patience"][str(p)] = {
            "same_choice": same,
            "mean_selection_epochs": float(np.mean([c[1] for c in chosen])),
            "changed": [
                {
                    "card": r["card"],
                    "full": f[0],
                    "with_patience": c[0],
                    "recall_full": max(r["curve"]),
                    "recall_with_patience": r["curve"][c[0] - 1],
                }
                for r, c, f in zip(runs, chosen, full, strict=True)
                if c[0] != f[0]
            ],
        }
        print(
            f"patience {p}: {same}/{len(runs)} runs keep their choice, "
            f"{result['patience'][str(p)]['mean_selection_epochs']:.1f} selection epochs on average"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
