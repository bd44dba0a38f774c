"""Model quality over several training seeds, against the collaborative-filtering peers and the Oracle.

    python benchmarks/quality.py --data-dir /tmp/q --prepare topics --seeds 1 2 3 4 5 --out q.json

``--prepare MODE`` fills the data directory from nothing: ``gfm generate --tastes MODE``,
``gfm transform``, ``gfm features apply`` + ``materialize`` and ``gfm train text``. Without it,
the directory must already hold those outputs (``gfm run`` or the stages up to ``gfm train text``).
Another draw of the generator (data no choice was made on) takes its settings from the
environment, as every stage does: ``GFM__GENERATE__SEED=11 python benchmarks/quality.py
--prepare communities ...`` (docs/results.md, round 36); the JSON's ``config`` records them.

For every seed it trains an HGNN, a 2T-HGNN on it and a 2T baseline (no HGNN inputs) with that
seed and, with ``--ablation``, a 2T-HGNN on an HGNN trained with the other relation sampler
(``hgnn.balanced_sampler`` flipped); then
``evaluate_version`` scores them with the seed protocol beside Popularity, text-kNN, HGNN-kNN
("HGNN"), the peers item-kNN and LightGCN (always on here, seeded with the same seed) and the
Oracle (when the generator wrote its true item groups). Only model seeds change between runs: the
data and the split are fixed, so the spread is training noise; comparisons are paired by seed.

Prints HR@10 per model and content type (all / warm / cold / cold in type / new-item tier, and
full-ranking Recall@20 / NDCG@20 on fixed splits) as mean ± sd, issue 9's target checks per seed
and on the means, and each model's share of the reachable lift
``(model - Popularity) / (Oracle - Popularity)``. Writes every per-seed value as JSON (``--out``).
Config overrides come from ``GFM__SECTION__FIELD`` environment variables, as for ``gfm`` (e.g.
``GFM__HGNN__EPOCHS=1 GFM__TWO_TOWER__EPOCHS=1 GFM__EVALUATE__LIGHTGCN_EPOCHS=2`` for a smoke run);
devices are chosen automatically (CUDA when present).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gfm.config import Config

# (name, where in a report's model body); "full" cells exist on fixed splits only
CELLS = ("all", "warm", "cold", "cold_in_type", "new")
FULL_METRICS = ("recall@20", "ndcg@20")
MAIN, TWO_TOWER, HGNN, KNN, LIGHTGCN, TEXT, POP, ORACLE = (
    "2T-HGNN",
    "2T",
    "HGNN",
    "item-kNN",
    "LightGCN",
    "text-kNN",
    "Popularity",
    "Oracle",
)


def _gfm(data_dir: Path, *args: str) -> str:
    """Run one ``gfm`` command (the script beside this interpreter) and return its stdout."""
    script = Path(sys.executable).with_name("gfm")
    exe = str(script) if script.exists() else (shutil.which("gfm") or "gfm")
    cmd = [exe, "--data-dir", str(data_dir), *args]
    print("$", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return done.stdout


def prepare(data_dir: Path, tastes: str) -> None:
    """Generate, transform, register/materialize features and embed text into ``data_dir``."""
    _gfm(data_dir, "generate", "--tastes", tastes)
    _gfm(data_dir, "transform")
    _gfm(data_dir, "features", "apply")
    _gfm(data_dir, "features", "materialize")
    _gfm(data_dir, "train", "text")


def tastes_of(cfg: Config) -> str:
    """The generator mode recorded in the raw manifest (``topics`` for anything else)."""
    from ingest.manifest import read_manifest

    generator = read_manifest(cfg.raw_dir).generator or {}
    return str(generator.get("tastes", "topics"))


def run_seed(cfg: Config, seed: int, ablation: bool) -> dict[str, Any]:
    """Train every model for one seed and evaluate them; returns the report path, models and inputs."""
    from embedding_jobs.evaluate.run import evaluate_version
    from embedding_jobs.train_hgnn import train_hgnn
    from embedding_jobs.train_two_tower import train_two_tower
    from gfm.versioning import new_version

    hc = cfg.hgnn.model_copy(update={"seed": seed})
    tc = cfg.two_tower.model_copy(update={"seed": seed})
    ec = cfg.evaluate.model_copy(update={"seed": seed, "peers": True, "lightgcn": True, "ablation": ablation})
    seeded = cfg.model_copy(update={"hgnn": hc, "two_tower": tc, "evaluate": ec})
    hgnn = train_hgnn(seeded, new_version(f"quality-hgnn-{seed}")).version
    main = new_version(f"quality-2t-hgnn-{seed}")
    train_two_tower(seeded, main, hgnn, role="ablation")
    baseline = new_version(f"quality-2t-{seed}")
    no_hgnn = seeded.model_copy(update={"two_tower": tc.model_copy(update={"use_hgnn": False})})
    train_two_tower(no_hgnn, baseline, None, role="baseline")
    path = evaluate_version(seeded, main, baseline_version=baseline, train_missing=ablation)
    return from_report(path, seed, cfg)


def recorded_tastes(data_dir: Path) -> str:
    """The generator mode recorded in the raw manifest (``topics`` when none is recorded)."""
    path = data_dir / "raw" / "_manifest.json"
    generator = json.loads(path.read_text()).get("generator") if path.exists() else None
    return str((generator or {}).get("tastes", "topics"))


def from_report(path: Path, seed: int, cfg: Config) -> dict[str, Any]:
    """A seed's entry built from a report that ``run_seed`` wrote earlier (same layout)."""
    report = json.loads(path.read_text())
    return {
        "seed": seed,
        "report": str(path),
        "cells": cells_of(report, f"hr@{cfg.evaluate.k}"),
        "references": report["inputs"].get("references", {}),
        "skipped": report["inputs"].get("skipped", {}),
    }


def cells_of(report: dict[str, Any], metric: str) -> dict[str, dict[str, dict[str, float | None]]]:
    """``{model: {type: {cell: value}}}`` for the quality table (cells with no users are None)."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for model, body in report["models"].items():
        for ctype, cell in body["by_type"].items():
            row = out.setdefault(model, {}).setdefault(ctype, {})
            row["all"] = cell.get(metric)
            row["warm"] = body["by_segment"]["warm"].get(ctype, {}).get(metric)
            row["cold"] = body["by_segment"]["cold"].get(ctype, {}).get(metric)
            row["cold_in_type"] = cell.get("cold_in_type", {}).get(metric)
            row["new"] = cell.get("tiers", {}).get("new", {}).get(metric)
            row["n_cold_in_type"] = cell.get("cold_in_type", {}).get("n_users")
            row["n_new"] = cell.get("tiers", {}).get("new", {}).get("n_users")
        if "full" in body:
            out.setdefault(model, {})["full"] = {m: body["full"].get(m) for m in FULL_METRICS}
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, sd and per-seed values of every (model, type, cell) over the seeds."""
    out: dict[str, Any] = {}
    for model in runs[0]["cells"]:
        for ctype, row in runs[0]["cells"][model].items():
            for cell in row:
                values = [
                    v for r in runs if (v := r["cells"].get(model, {}).get(ctype, {}).get(cell)) is not None
                ]
                if values:
                    out.setdefault(model, {}).setdefault(ctype, {})[cell] = {
                        "mean": statistics.fmean(values),
                        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                        "values": values,
                    }
    return out


def sparser_type(cfg: Config) -> str | None:
    """The content type with the fewest training-window consumptions."""
    import pandas as pd

    facts = pd.read_parquet(
        cfg.marts_dir / "fct_interactions.parquet", columns=["content_type", "is_consumed"]
    )
    counts = facts.loc[facts["is_consumed"].astype(bool)].groupby("content_type").size()
    return None if counts.empty else str(counts.idxmin())


def target_checks(
    cells: dict[str, dict[str, dict[str, float | None]]], tastes: str, sparser: str | None
) -> list[dict[str, Any]]:
    """Issue 9's targets on one set of cells (a seed's values, or the means).

    Community mode: 2T-HGNN ≥ 1.15 x item-kNN and ≥ LightGCN per type, HGNN ≥ item-kNN. Default:
    2T-HGNN ≥ 2T and ≥ item-kNN per type. Both: 2T-HGNN > 2T on the sparser type's cold-in-type
    users, 2T-HGNN ≥ text-kNN on the new-item tier. A check whose cells are missing is left out.
    """
    types = sorted(t for t in cells.get(MAIN, {}) if t != "full")
    rules: list[tuple[str, str, str, str, float, bool]] = []  # name, type, cell, rival, factor, strict
    for t in types:
        if tastes == "communities":
            rules += [(f"{MAIN} ≥ 1.15 × {KNN}", t, "all", KNN, 1.15, False)]
            rules += [(f"{MAIN} ≥ {LIGHTGCN}", t, "all", LIGHTGCN, 1.0, False)]
        else:
            rules += [(f"{MAIN} ≥ {TWO_TOWER}", t, "all", TWO_TOWER, 1.0, False)]
            rules += [(f"{MAIN} ≥ {KNN}", t, "all", KNN, 1.0, False)]
        rules += [(f"{MAIN} ≥ {TEXT} (new-item tier)", t, "new", TEXT, 1.0, False)]
    if sparser in types:
        rules += [
            (
                f"{MAIN} > {TWO_TOWER} (cold in type, sparser type)",
                sparser,
                "cold_in_type",
                TWO_TOWER,
                1.0,
                True,
            )
        ]
    checks = []
    for name, t, cell, rival, factor, strict in rules:
        main, other = _value(cells, MAIN, t, cell), _value(cells, rival, t, cell)
        if main is not None and other is not None:
            met = main > factor * other if strict else main >= factor * other
            checks.append({"check": name, "type": t, "main": main, "rival": other, "met": met})
    if tastes == "communities":
        for t in types:
            hgnn, knn = _value(cells, HGNN, t, "all"), _value(cells, KNN, t, "all")
            if hgnn is not None and knn is not None:
                checks.append(
                    {"check": f"{HGNN} ≥ {KNN}", "type": t, "main": hgnn, "rival": knn, "met": hgnn >= knn}
                )
    return checks


def _value(cells: dict[str, Any], model: str, ctype: str, cell: str) -> float | None:
    value = cells.get(model, {}).get(ctype, {}).get(cell)
    return None if value is None else float(value)


def lift_shares(cells: dict[str, dict[str, dict[str, float | None]]]) -> dict[str, dict[str, float | None]]:
    """``(model - Popularity) / (Oracle - Popularity)`` of HR@k (all users) per model and type."""
    out: dict[str, dict[str, float | None]] = {}
    for ctype in cells.get(ORACLE, {}):
        top, floor = _value(cells, ORACLE, ctype, "all"), _value(cells, POP, ctype, "all")
        for model in cells:
            value = _value(cells, model, ctype, "all")
            ok = None not in (top, floor, value) and top - floor > 0  # type: ignore[operator]
            out.setdefault(model, {})[ctype] = (value - floor) / (top - floor) if ok else None  # type: ignore[operator]
    return out


def means(summary: dict[str, Any]) -> dict[str, dict[str, dict[str, float | None]]]:
    """The summary's means in the per-seed cell layout."""
    return {
        m: {t: {c: v["mean"] for c, v in row.items()} for t, row in body.items()}
        for m, body in summary.items()
    }


def print_table(summary: dict[str, Any], metric: str, n_seeds: int) -> None:
    """One row per model; per type, all / warm / cold / cold in type / new as mean ± sd."""
    types = sorted({t for body in summary.values() for t in body if t != "full"})
    print(f"\n{metric}, mean ± sd over {n_seeds} seed(s); per type: " + " / ".join(CELLS))
    for t in types:
        print(f"\n{t}")
        print(f"  {'model':<34}" + "".join(f"{c:>16}" for c in CELLS))
        for model, body in summary.items():
            row = body.get(t, {})
            parts = [f"{row[c]['mean']:.3f}±{row[c]['sd']:.3f}" if c in row else "–" for c in CELLS]
            print(f"  {model:<34}" + "".join(f"{p:>16}" for p in parts))
        sizes = next(iter(summary.values())).get(t, {})
        n_cit, n_new = sizes.get("n_cold_in_type", {}).get("mean"), sizes.get("n_new", {}).get("mean")
        print(
            f"  cells: cold in type n={n_cit:.0f}, new-item tier n={n_new:.0f} users"
            if n_cit is not None and n_new is not None
            else ""
        )
    full = {m: b["full"] for m, b in summary.items() if "full" in b}
    if full:
        print("\nfull ranking (fixed split): " + " / ".join(FULL_METRICS))
        for model, row in full.items():
            print(
                f"  {model:<34}"
                + "".join(f"{row[c]['mean']:>10.4f}±{row[c]['sd']:.4f}" for c in FULL_METRICS if c in row)
            )


def print_checks(title: str, checks: list[dict[str, Any]]) -> None:
    """One line per check, ✓ or ✗."""
    met = sum(c["met"] for c in checks)
    print(f"\n{title}: {met}/{len(checks)} met")
    for c in checks:
        print(
            f"  {'✓' if c['met'] else '✗'} {c['check']:<44} {c['type']:<12} {c['main']:.3f} vs {c['rival']:.3f}"
        )


def print_lift(lift: dict[str, dict[str, float | None]]) -> None:
    """Share of the reachable lift per model and type."""
    if not lift:
        print("\nno Oracle (no true item groups in raw/_truth): no reachable-lift shares")
        return
    types = sorted({t for row in lift.values() for t in row})
    print("\nshare of reachable lift (model - Popularity) / (Oracle - Popularity), on the means")
    for model, row in lift.items():
        print(
            f"  {model:<34}"
            + "".join(f"{t}: {row[t]:>7.2f}  " if row.get(t) is not None else f"{t}: –  " for t in types)
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".gfm"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument(
        "--prepare",
        choices=("topics", "communities"),
        default=None,
        help="first generate data with these tastes into --data-dir, transform, apply/materialize Feast, embed text",
    )
    parser.add_argument(
        "--tastes",
        choices=("topics", "communities"),
        default=None,
        help="which targets to check (default: the mode recorded in the raw manifest)",
    )
    parser.add_argument(
        "--ablation", action="store_true", help="also train the other-relation-sampler ablation"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write the per-seed values and summary as JSON"
    )
    parser.add_argument(
        "--reports",
        type=Path,
        nargs="+",
        help="summarise these existing per-seed report.json files (one per seed, in --seeds order) "
        "instead of training: for a run that was stopped before its last seed",
    )
    args = parser.parse_args()

    tastes = args.tastes or args.prepare or recorded_tastes(args.data_dir)
    if args.prepare:
        start = time.perf_counter()
        prepare(args.data_dir, args.prepare)
        print(
            f"prepared {args.prepare} data in {args.data_dir} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    cfg = Config.load(data_dir=args.data_dir)
    metric = f"hr@{cfg.evaluate.k}"
    sparser = sparser_type(cfg)
    runs = []
    if args.reports and len(args.reports) != len(args.seeds):
        parser.error(f"{len(args.reports)} reports for {len(args.seeds)} seeds: give one per seed")
    for i, seed in enumerate(args.seeds):
        start = time.perf_counter()
        runs.append(
            from_report(args.reports[i], seed, cfg) if args.reports else run_seed(cfg, seed, args.ablation)
        )
        runs[-1]["seconds"] = time.perf_counter() - start
        runs[-1]["checks"] = target_checks(runs[-1]["cells"], tastes, sparser)
        print(f"seed {seed}: {runs[-1]['report']} ({runs[-1]['seconds']:.0f} s)", flush=True)
        print_checks(f"seed {seed} targets ({tastes})", runs[-1]["checks"])
    summary = summarise(runs)
    mean_cells = means(summary)
    checks = target_checks(mean_cells, tastes, sparser)
    lift = lift_shares(mean_cells)
    print_table(summary, metric, len(runs))
    print(f"\nsparser type (fewest training consumptions): {sparser}")
    print_checks(f"targets on the means over {len(runs)} seed(s) ({tastes})", checks)
    print_lift(lift)
    if args.out:
        from embedding_jobs.device import machine_facts

        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "seeds": args.seeds,
            "metric": metric,
            "tastes": tastes,
            "sparser_type": sparser,
            "runs": runs,
            "summary": summary,
            "checks_on_means": checks,
            "lift_share_on_means": lift,
            "per_seed_lift_share": {r["seed"]: lift_shares(r["cells"]) for r in runs},
            "machine": machine_facts(),
            "config": {
                "hgnn": cfg.hgnn.model_dump(),
                "two_tower": cfg.two_tower.model_dump(),
                "evaluate": cfg.evaluate.model_dump(),
                "generate": cfg.generate.model_dump(),
            },
        }
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
