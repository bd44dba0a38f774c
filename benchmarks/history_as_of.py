"""What leakage-free user histories do to the two-tower models (issue 9, item 3).

    python benchmarks/history_as_of.py --data-dir DIR --seeds 1 2 3 \\
        --out benchmarks/results/history_as_of.json

Before: every two-tower training example saw its user's history of the whole training window
(only its own item removed), items consumed after the example included, and validation examples
saw the rest of the validation slice the same way. After (``two_tower.history_as_of``, the
default): an example sees only what its user consumed, followed or previewed strictly before
its time. For every model seed this trains 2T (no HGNN inputs) and 2T-HGNN with the switch on
and off, on the same HGNN export, and scores them with the evaluation protocol
(``embedding_jobs.evaluate``) in one report. The export history is the whole training window in
every case, so the differences come from what the models learned.

``fct_interactions`` records one ``first_event_at`` per (user, item): the first event of any
kind, so an item previewed on Monday and streamed on Wednesday has its example on Monday, and
its own preview is not before it. The two-tower reads ``first_consumed_at`` and
``first_signal_at`` when the mart has them. With ``--consumption-times`` (the default) a third
variant per model trains on a sibling data directory ``DIR-consumption-times`` whose mart has
both columns, computed from the warehouse's ``int_interactions_classified`` as the proposed dbt
change would; everything else there links to ``DIR`` (the same Feast store, embeddings, models
and reports), so one report scores every run.

``DIR`` needs the marts and warehouse, the Feast repo applied and materialized, the text
features and an HGNN export (``gfm train hgnn``; the latest is used unless ``--hgnn-version``
names one). Prints HR@10 (all / warm / cold) per model and content type as mean ± sd over the
seeds, each variant's paired difference from the old histories, and the epoch count each run
chose on its validation slice.

``--scale N ...`` times the history index alone on random logs of N events instead (building it,
then one epoch of as-of lookups), with ``--out`` for its JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd

from embedding_jobs.evaluate.run import evaluate
from embedding_jobs.train_two_tower import train_two_tower
from gfm.config import Config
from gfm.versioning import latest_version, new_version

SEGMENTS = ("all", "warm", "cold")
MODELS = (("2T", False), ("2T-HGNN", True))  # name, use_hgnn
OFF = " (history as-of off)"
TIMES = " (as-of, consumption times)"
_TIMES_SQL = """
    select user_id, item_id,
           min(event_at) filter (where is_consumption) as first_consumed_at,
           min(event_at) filter (where event_type in ('follow', 'preview', 'intent_to_pay'))
               as first_signal_at
    from int_interactions_classified
    where split_window = 'train'
    group by user_id, item_id
"""


def with_consumption_times(cfg: Config) -> Config:
    """The config of ``DIR-consumption-times``: ``DIR`` with two more event times in its mart.

    ``first_consumed_at`` (first stream of at least ``min_ms_played``) and ``first_signal_at``
    (first follow, preview or intent to pay) per (user, item) of the training window, read from
    the warehouse view that ``fct_interactions`` aggregates. Every other entry links to ``DIR``.
    """
    import duckdb

    src = cfg.data_dir.resolve()
    dst = src.with_name(src.name + "-consumption-times")
    (dst / "marts").mkdir(parents=True, exist_ok=True)
    for entry in [*src.iterdir(), *(src / "marts").iterdir()]:
        link = dst / entry.relative_to(src)
        if entry.name not in ("marts", "fct_interactions.parquet") and not link.is_symlink():
            link.symlink_to(entry)
    with duckdb.connect(str(cfg.warehouse_path), read_only=True) as con:
        times = con.sql(_TIMES_SQL).df()
    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    facts = facts.merge(times, on=["user_id", "item_id"], how="left", validate="one_to_one")
    for column in ("first_consumed_at", "first_signal_at"):
        facts[column] = pd.to_datetime(facts[column], utc=True)
    if not (facts["first_consumed_at"].notna() == facts["is_consumed"].astype(bool)).all():
        raise SystemExit(f"{cfg.warehouse_path} does not match {cfg.marts_dir}: rerun `gfm transform`")
    facts.to_parquet(dst / "marts" / "fct_interactions.parquet", index=False)
    return cfg.model_copy(update={"data_dir": dst})


def run_seed(cfg: Config, seed: int, hgnn_version: str, metric: str, timed: Config | None) -> dict[str, Any]:
    """Train every two-tower variant of one seed and evaluate them all in one report."""
    variants = [("", cfg, True), (OFF, cfg, False)] + ([(TIMES, timed, True)] if timed else [])
    versions: dict[str, str] = {}
    selection: dict[str, dict[str, Any]] = {}
    for model, use_hgnn in MODELS:
        for suffix, base, as_of in variants:
            name = model + suffix
            update = {"seed": seed, "use_hgnn": use_hgnn, "history_as_of": as_of}
            run_cfg = base.model_copy(update={"two_tower": base.two_tower.model_copy(update=update)})
            version = new_version(f"history-as-of-{name}-{seed}")
            result = train_two_tower(run_cfg, version, hgnn_version, role="ablation")
            versions[name] = version
            selection[name] = {k: result.metrics.get(k) for k in ("epochs", "val_recalls", "n_val_examples")}
            print(f"  {name}: {version}, {result.metrics.get('epochs')} epochs", flush=True)
    # the peers are not what is measured here: LightGCN (minutes on the CPU) is left out
    path = evaluate(
        cfg.model_copy(update={"evaluate": cfg.evaluate.model_copy(update={"lightgcn": False})}),
        hgnn_version=hgnn_version,
        two_tower_version=versions["2T-HGNN"],
        baseline_two_tower_version=versions["2T"],
        ablation_versions={name: v for name, v in versions.items() if name not in dict(MODELS)},
    )
    report = json.loads(path.read_text())
    models = {name: report["models"][name] for name in versions}
    return {
        "seed": seed,
        "report": str(path),
        "versions": versions,
        "selection": selection,
        "hr": _cells(models, metric),
    }


def _cells(models: dict[str, Any], metric: str) -> dict[str, dict[str, dict[str, float]]]:
    """``hr[model][type][segment]`` = ``metric`` from a report's models."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for model, body in models.items():
        for ctype, cell in body["by_type"].items():
            out.setdefault(model, {}).setdefault(ctype, {})["all"] = float(cell[metric])
            for seg in ("warm", "cold"):
                value = body["by_segment"].get(seg, {}).get(ctype, {}).get(metric)
                if value is not None:
                    out[model][ctype][seg] = float(value)
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± sd per cell, and each variant's paired difference from the old histories."""
    summary: dict[str, Any] = {"hr": {}, "minus_off": {}}
    for model, by_type in runs[0]["hr"].items():
        base = model.split(" (")[0]
        for ctype, by_seg in by_type.items():
            for seg in by_seg:
                values = [r["hr"][model][ctype][seg] for r in runs]
                summary["hr"].setdefault(model, {}).setdefault(ctype, {})[seg] = _stats(values)
                if model != base + OFF:
                    diffs = [v - r["hr"][base + OFF][ctype][seg] for v, r in zip(values, runs, strict=True)]
                    summary["minus_off"].setdefault(model, {}).setdefault(ctype, {})[seg] = _stats(diffs)
    return summary


def _stats(values: list[float]) -> dict[str, Any]:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "values": values}


def print_tables(summary: dict[str, Any], runs: list[dict[str, Any]], metric: str) -> None:
    """The metric per model, the paired differences from the old histories, the epochs chosen."""
    types = sorted({t for body in summary["hr"].values() for t in body})
    print(f"\n{metric}, mean ± sd over {len(runs)} seed(s); per type: all / warm / cold")
    print(f"{'model':<44}" + "".join(f"{t:<42}" for t in types))
    for prefix, sign, block in (("", "", summary["hr"]), ("minus off: ", "+", summary["minus_off"])):
        for model, body in block.items():
            cells = [
                " / ".join(
                    f"{body[t][s]['mean']:{sign}.3f}±{body[t][s]['sd']:.3f}" for s in SEGMENTS if s in body[t]
                )
                for t in types
            ]
            print(f"{prefix + model:<44}" + "".join(f"{c:<42}" for c in cells))
    print("\nepochs chosen on the validation slice (validation recall@10 there)")
    for r in runs:
        parts = []
        for model, sel in r["selection"].items():
            recalls = sel.get("val_recalls") or []
            best = f" ({recalls[sel['epochs'] - 1]:.3f})" if recalls else ""
            parts.append(f"{model}: {sel['epochs']}{best}")
        print(f"seed {r['seed']}: " + ", ".join(parts))


def time_histories(n_events: int, dim: int = 512, n_types: int = 2, seed: int = 0) -> dict[str, Any]:
    """Cost of the as-of histories on a random log of ``n_events`` (user, item) rows.

    Builds ``Histories`` (sort, running sums) and looks up one epoch of examples, one per event,
    in batches of 1024, as training does. Users: ``n_events / 10``; items: ``n_events / 100``.
    """
    import numpy as np
    import torch

    from embedding_jobs.data.histories import build_histories
    from embedding_jobs.data.interactions import Catalogue

    rng = np.random.default_rng(seed)
    n_users, n_items = max(n_events // 10, 1), max(n_events // 100, 1)
    vectors = torch.randn(n_items, dim)
    cat = Catalogue(
        np.arange(n_items),
        torch.from_numpy(rng.integers(0, n_types, n_items)),
        vectors,
        vectors[:, :0],
        vectors,
    )
    start = pd.Timestamp("2026-07-01", tz="UTC").value
    facts = pd.DataFrame(
        {
            "user_id": rng.integers(0, n_users, n_events),
            "item_id": rng.integers(0, n_items, n_events),
            "is_consumed": True,
            "n_follows": (rng.random(n_events) < 0.3).astype(int),
            "first_event_at": pd.to_datetime(
                rng.integers(start, start + 90 * 86_400 * 10**9, n_events), utc=True
            ),
        }
    )
    began = time.perf_counter()
    hist = build_histories(np.arange(n_users), facts, cat, n_types)
    build_s = time.perf_counter() - began
    users = torch.from_numpy(hist.rows(facts["user_id"]))
    at = torch.from_numpy(facts["first_event_at"].astype("int64").to_numpy())
    began = time.perf_counter()
    for lo in range(0, n_events, 1024):
        hist.as_of(users[lo : lo + 1024], at[lo : lo + 1024])
    lookup_s = time.perf_counter() - began
    return {
        "n_events": n_events,
        "n_users": n_users,
        "n_items": n_items,
        "dim": dim,
        "build_s": build_s,
        "epoch_lookup_s": lookup_s,
        "lookups_per_s": n_events / lookup_s,
        "running_sum_bytes": int(hist.consumed.cum.numel() + hist.weak.cum.numel()) * 4,
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m": os.getloadavg()[0],  # the machine is shared: other jobs slow every figure
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".gfm"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--hgnn-version", default=None, help="HGNN export to use (default: the latest)")
    parser.add_argument(
        "--consumption-times",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train on DIR-consumption-times (first stream / first weak signal per item)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write per-seed values and the summary as JSON"
    )
    parser.add_argument(
        "--scale",
        type=int,
        nargs="+",
        default=None,
        help="instead: time building and looking up histories on random logs of these many events",
    )
    args = parser.parse_args()
    if args.scale:
        rows = []
        for n in args.scale:
            rows.append(time_histories(n))
            print(json.dumps(rows[-1]), flush=True)
        if args.out:
            args.out.write_text(json.dumps({"scale": rows}, indent=2) + "\n")
        return

    cfg = Config.load(data_dir=args.data_dir)
    metric = f"hr@{cfg.evaluate.k}"
    hgnn_version = args.hgnn_version or latest_version(cfg.embeddings_dir / "hgnn")
    if hgnn_version is None:
        parser.error(f"no HGNN export under {cfg.embeddings_dir / 'hgnn'}: run `gfm train hgnn` first")
    timed = with_consumption_times(cfg) if args.consumption_times else None
    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        start = time.perf_counter()
        print(f"seed {seed}", flush=True)
        runs.append(run_seed(cfg, seed, hgnn_version, metric, timed))
        runs[-1]["seconds"] = time.perf_counter() - start
        print(f"seed {seed}: {runs[-1]['report']} ({runs[-1]['seconds']:.0f} s)", flush=True)
        if args.out:  # after every seed, so a long run that is stopped keeps what it measured
            args.out.parent.mkdir(parents=True, exist_ok=True)
            payload = {
                "data_dir": str(args.data_dir),
                "hgnn_version": hgnn_version,
                "seeds": [r["seed"] for r in runs],
                "metric": metric,
                "runs": runs,
                "summary": summarise(runs),
                "config": {"two_tower": cfg.two_tower.model_dump(), "evaluate": cfg.evaluate.model_dump()},
            }
            args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print_tables(summarise(runs), runs, metric)
    if args.out:
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
