"""``gfm run`` on a real dataset with no configuration, summarised as JSON.

    python benchmarks/real_data.py --source lightgcn --path ../shared/data/yelp2018_lightgcn \\
        --data-dir /tmp/yelp --out benchmarks/results/yelp2018_gfm_run.json
    python benchmarks/real_data.py --data-dir /tmp/yelp --no-run --out ...   # summarise a finished run
    python benchmarks/real_data.py --data-dir /tmp/yelp --no-run --arm VERSION "what differs" --out ...
    python benchmarks/real_data.py --data-dir /tmp/yelp --no-run --source lightgcn --path P \\
        --setting GFM__HGNN__EPOCHS=6 --note "where it ran" --out ...   # say how it was run

Runs the installed ``gfm run --source S --path P`` into ``--data-dir`` (this script sets no
``GFM__`` variables: what the run needs is chosen from the data and printed; any the caller set,
e.g. to train longer, are recorded in the JSON under ``settings``), then reads the run's own
outputs: the provenance card (stage times, the setup choices, status) and the evaluation report
(every model's HR@10, MRR, Recall@20 and NDCG@20 per content type). The datasets themselves are
never copied into the repository; the JSON holds only figures.

``--arm VERSION NOTE`` (repeatable) adds a 2T-HGNN trained and evaluated in the same data dir after
the run (``gfm train two-tower --version VERSION`` and ``gfm evaluate --version VERSION``, e.g. on the
run's HGNN with one setting or one commit changed): its settings that differ from the run's
two-tower, its epoch losses, the HGNN it read (version, epochs, health check) and its report's
figures for 2T-HGNN and HGNN-kNN, beside ``NOTE`` (what else differs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def summarise(data_dir: Path) -> dict[str, Any]:
    """The latest provenance card and evaluation report of ``data_dir``, reduced to figures."""
    cards = sorted((data_dir / "reports" / "provenance").glob("v*.json"))
    if not cards:
        raise SystemExit(f"no provenance card under {data_dir}: has `gfm run` finished there?")
    card = json.loads(cards[-1].read_text())
    report = json.loads((data_dir / "reports" / "eval" / card["version"] / "report.json").read_text())
    from embedding_jobs.evaluate.protocol import headline_keys
    from gfm.config import Config

    keys = headline_keys(Config.load().evaluate)  # the run's own settings
    models = {
        name: {ctype: _figures(cell, keys) for ctype, cell in body["by_type"].items()}
        for name, body in report["models"].items()
    }
    return {
        "version": card["version"],
        "source": card["source"],
        "status": card["status"],
        # None for a run made before the evaluation stage stopped dropping them from the card
        "setup_choices": card["metrics"].get("setup_choices"),
        "stages": {s["name"]: s["seconds"] for s in card["stages"]},
        "total_seconds": sum(s["seconds"] for s in card["stages"]),
        "skipped": report["inputs"].get("skipped", {}),
        "trained": _trained(data_dir, report["inputs"]),
        "graph_edges": _graph_edges(data_dir),
        "models": models,
    }


def _trained(data_dir: Path, inputs: dict[str, Any]) -> dict[str, Any]:
    """What the evaluated models trained: the HGNN's health check, seed, device and time; each two-tower's epochs."""
    models = data_dir / "models"
    out: dict[str, Any] = {}
    hgnn = models / "hgnn" / str(inputs.get("hgnn_version")) / "card.json"
    if hgnn.exists():
        card = json.loads(hgnn.read_text())
        metrics = card["metrics"]
        out["hgnn"] = {
            "epochs": len(metrics.get("epoch_losses", [])),
            "health_check_hr@10": metrics.get("heldout_item_hr@10"),
            "seed": card.get("seeds", {}).get("hgnn"),
            "device": card.get("extra", {}).get("device"),  # an arm may read an HGNN trained on a GPU
            "train_seconds": card.get("timings", {}).get("train_s"),
        }
    for name, version in (inputs.get("two_tower_versions") or {}).items():
        card = models / "two_tower" / str(version) / "card.json"
        if version and card.exists():
            metrics = json.loads(card.read_text())["metrics"]
            out[name] = {k: metrics.get(k) for k in ("epochs", "trained_examples", "n_examples")}
    return out


def _graph_edges(data_dir: Path) -> dict[str, int] | None:
    """Co-consumption edges per relation in the run's edge mart (the HGNN's graph)."""
    from embedding_jobs.data.graph import relation_sizes

    marts = data_dir / "marts"
    return relation_sizes(marts) if (marts / "fct_item_edges.parquet").exists() else None


SELECTION = (
    "epochs",
    "n_val_examples",
    "val_recalls",
    "ids_chosen",
    "val_recalls_with_ids",
    "val_recalls_without_ids",
)


def arm(data_dir: Path, version: str, note: str, base: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """A 2T-HGNN ``version`` evaluated in ``data_dir`` after the run, against the run's ``base``."""
    models = data_dir / "models" / "two_tower"
    card = json.loads((models / version / "card.json").read_text())
    run = json.loads((models / base / "card.json").read_text())["config"]["two_tower"]
    report = json.loads((data_dir / "reports" / "eval" / version / "report.json").read_text())
    hgnn_version = card["extra"].get("hgnn_version")
    return {
        "version": version,
        "note": note,
        # the HGNN it read (an arm may read another than the run's), its epochs and health check
        "hgnn": {
            "version": hgnn_version,
            **_trained(data_dir, {"hgnn_version": hgnn_version}).get("hgnn", {}),
        },
        "two_tower_changes": {
            k: {"run": run.get(k), "arm": v}
            for k, v in card["config"]["two_tower"].items()
            if run.get(k) != v and k != "device"
        },
        "epoch_losses": card["metrics"].get("epoch_losses"),
        # how a validation slice chose the epochs (and the ID vectors), where one did
        "selection": {k: card["metrics"][k] for k in SELECTION if k in card["metrics"]},
        "train_seconds": card["timings"].get("train_s"),
        "models": {
            name: {ctype: _figures(cell, keys) for ctype, cell in body["by_type"].items()}
            for name, body in report["models"].items()
            if name in ("2T-HGNN", "HGNN")  # HGNN: HGNN-kNN over the vectors it read
        },
    }


def _figures(cell: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """One report cell's figures, with its cold-in-type users' HR@10 and count when reported."""
    out = {k: cell.get(k) for k in keys}
    cold = cell.get("cold_in_type")
    if isinstance(cold, dict):
        out["cold_in_type"] = {"hr@10": cold.get("hr@10"), "n_users": cold.get("n_users")}
    return out


def main() -> None:
    """Run (unless ``--no-run``), summarise, print and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", help="importer name: movielens, lightgcn")
    parser.add_argument("--path", type=Path, help="the dataset's folder")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--no-run", action="store_true", help="summarise the run already in --data-dir")
    parser.add_argument(
        "--arm",
        nargs=2,
        action="append",
        default=[],
        metavar=("VERSION", "NOTE"),
        help="also summarise this 2T-HGNN version evaluated in --data-dir after the run",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="GFM__NAME=VALUE",
        help="with --no-run: a GFM__ variable the summarised run was started with (repeatable)",
    )
    parser.add_argument("--note", help="where and how the run ran (machine, threads, other jobs)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    given = dict(s.split("=", 1) for s in args.setting if "=" in s)
    if len(given) != len(args.setting) or any(not k.startswith("GFM__") for k in given):
        parser.error("--setting takes GFM__NAME=VALUE")
    if given and not args.no_run:
        parser.error("--setting is for --no-run: a run started here records its own GFM__ variables")
    if not args.no_run:
        if args.source is None or args.path is None:
            parser.error("--source and --path are needed to run")
        gfm = Path(sys.executable).with_name("gfm")
        cmd = [
            str(gfm),
            "--data-dir",
            str(args.data_dir),
            "run",
            "--source",
            args.source,
            "--path",
            str(args.path),
        ]
        subprocess.run(cmd, check=True)
    # a summarised run (--no-run) was started elsewhere: its command and settings are known only as
    # far as the caller says (--source/--path, --setting)
    ran = not args.no_run
    settings = {k: v for k, v in sorted(os.environ.items()) if k.startswith("GFM__")} if ran else None
    told = args.source is not None and args.path is not None
    result = {
        "command": f"gfm run --source {args.source} --path {args.path}" if ran or told else None,
        "settings": settings if ran else (dict(sorted(given.items())) if told or given else None),
        "note": args.note,
        **summarise(args.data_dir),
    }
    if args.arm:
        from embedding_jobs.evaluate.protocol import headline_keys
        from gfm.config import Config

        keys = headline_keys(Config.load().evaluate)
        result["arms"] = [arm(args.data_dir, v, note, result["version"], keys) for v, note in args.arm]
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
