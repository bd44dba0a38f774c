"""A 2T-HGNN's two-tower combined with its HGNN's item mixture, per candidate.

    python benchmarks/blend.py --data-dir DIR --versions V1 V2 ... --out benchmarks/results/blend.json

Two readings of the same user compete in the report: the 2T-HGNN two-tower, whose user tower
sees the *mean* of the user's HGNN vectors (its history input and ``hgnn_skip``), and HGNN-kNN,
which reads the HGNN's softmax as a mixture of the user's items (round 27). Both are
distributions over the type's items: the two-tower was trained as an in-batch softmax with the
logQ correction at its temperature, so ``softmax(u . b / t)`` estimates its P(b | u). This
benchmark scores, for each 2T-HGNN version (a model seed), the two alone and combined by
``baselines.blend``:

* ``product w``: log P_tt + w log P_mix, a product of experts (w = 1: both weigh the same);
* ``sum a``: log((1 - a) P_tt + a P_mix), a mixture of experts;
* the served rule: ``sum`` at ``two_tower.mixture_share``, each expert over its
  ``serve.mixture_depth`` best candidates, consumed items only (``evaluate/served.py``), with each
  consumed item's HGNN softmax over its nearest items; with ``--shares`` the same rule at other
  shares beside it (read on the test users: a diagnostic);
* with ``--partners``, HGNN-kNN and the same rule with each item's softmax read over its partners
  in ``fct_item_edges`` instead (``baselines.item_mixture``'s ``partners``; what cards since round
  37 serve, ``two_tower.mixture_reads``). "(as served)" marks the reading the version's card serves.

It trains nothing and reads the versions' exported vectors with the evaluation's tasks (the same
users as the report). Every cell is HR@k all users, cold in type, the new-item tier, and on fixed
splits Recall@20 / NDCG@20. The means over versions are printed and written (``mean``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embedding_jobs.checkpoint import hgnn_temperature, read_card, two_tower_temperature
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import build_tasks, score, user_cap
from embedding_jobs.evaluate.served import served_rule
from embedding_jobs.export import read_vectors
from embedding_jobs.partners import Partners
from gfm.config import Config
from gfm.naming import checkpoint_dir, export_path
from ingest.manifest import read_manifest

PRODUCT_WEIGHTS = (0.25, 0.5, 1.0, 2.0)
PARTNERS = "HGNN over its graph partners"
SUM_WEIGHTS = (0.25, 0.5, 0.75)


def run(cfg: Config, version: str, data: dict[str, Any]) -> dict[str, Any]:
    """Score one 2T-HGNN version alone, its HGNN alone and every blend; returns cells per task."""
    card = read_card(checkpoint_dir(cfg.models_dir, "two_tower", version))
    hgnn_version = card.extra["hgnn_version"]
    t_mix = hgnn_temperature(cfg, hgnn_version)
    if t_mix is None:
        raise SystemExit(f"HGNN {hgnn_version} was trained with the margin loss: it has no softmax to blend")
    t_tt = two_tower_temperature(cfg, version)
    users = read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "user"), "user_id")
    items = read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "item"))
    hgnn = read_vectors(export_path(cfg.embeddings_dir, "hgnn", hgnn_version, "item"))
    pop, consumed, weak = data["pop"], data["consumed"], data["weak"]
    k = cfg.evaluate.k
    out: dict[str, Any] = {"hgnn_version": hgnn_version, "tower_temperature": t_tt, "hgnn_temperature": t_mix}
    rule = served_rule(cfg, version)
    out["served_share"], out["served_reads"] = rule["share"], rule["reads"]
    tasks: dict[str, Any] = {}
    for task in data["tasks"]:
        if data["fixed"] and task.name != "all":
            continue
        start = time.perf_counter()
        tower = baselines.two_tower(task, users, items, pop)
        scorers: dict[str, Any] = {"2T-HGNN": tower}
        fresh = torch.from_numpy(pop.reindex(task.item_ids, fill_value=0).to_numpy() == 0)
        if not data["served_only"]:  # the exact mixture reads every candidate for every history item
            mixture = baselines.item_mixture(task, hgnn, consumed, weak, pop, t_mix)
            history = baselines.has_history(task, hgnn, consumed, weak)
            scorers["HGNN-kNN"] = mixture
            for w in PRODUCT_WEIGHTS:
                scorers[f"product {w:g}"] = baselines.blend(tower, t_tt, mixture, history, "product", w)
            for a in SUM_WEIGHTS:
                scorers[f"sum {a:g}"] = baselines.blend(tower, t_tt, mixture, history, "sum", a)
                name = f"sum {a:g}, the mixture abstains on fresh items"
                scorers[name] = baselines.blend(tower, t_tt, mixture, history, "sum", a, fresh=fresh)
        # the served rule (embedding_jobs/evaluate/served.py): consumed items only, each expert
        # over its serve.mixture_depth best candidates
        depth, none = cfg.serve.mixture_depth, data["none"]
        near = baselines.item_mixture(task, hgnn, consumed, none, pop, t_mix, depth)
        served = baselines.has_history(task, hgnn, consumed, none)
        if data["served_only"]:  # HGNN-kNN as the report reads it
            scorers[f"HGNN-kNN, {depth} best"] = near
        mates = None
        if data["partners"] is not None:
            mates = baselines.item_mixture(
                task, hgnn, consumed, none, pop, t_mix, depth, partners=data["partners"]
            )
            scorers[f"{PARTNERS}, HGNN-kNN"] = mates
        for share in sorted({*data["shares"], cfg.two_tower.mixture_share}):
            card_share = share == out["served_share"]
            as_served = " (as served)" if card_share and out["served_reads"] == "nearest" else ""
            name = f"sum {share:g}, {depth} best of each{as_served}"
            scorers[name] = baselines.blend(tower, t_tt, near, served, "sum", share, depth, fresh)
            if mates is not None:
                as_served = " (as served)" if card_share and out["served_reads"] == "partners" else ""
                scorers[f"{PARTNERS}, sum {share:g}{as_served}"] = baselines.blend(
                    tower, t_tt, mates, served, "sum", share, depth, fresh
                )
        cells: dict[str, Any] = {}
        for name, scorer in scorers.items():
            s = score(task, scorer, cfg.evaluate)
            cells[name] = {
                "all": s[f"hr@{k}"],
                "cold_in_type": s["cold_in_type"][f"hr@{k}"],
                "new": s["tiers"]["new"][f"hr@{k}"],
                f"recall@{cfg.evaluate.recall_k}": s[f"recall@{cfg.evaluate.recall_k}"],
                f"ndcg@{cfg.evaluate.recall_k}": s[f"ndcg@{cfg.evaluate.recall_k}"],
                "n_users": s["n_users"],
            }
            shown = {m: round(v, 4) for m, v in cells[name].items() if isinstance(v, float)}
            print(version, task.name, name, shown, flush=True)
        cells["seconds"] = round(time.perf_counter() - start, 1)
        tasks[task.name] = cells
    out["tasks"] = tasks
    return out


def _means(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task, model and cell, the mean over the runs (None where a cell is empty)."""
    out: dict[str, Any] = {}
    for task, cells in runs[0]["tasks"].items():
        out[task] = {}
        for name, cell in cells.items():
            if not isinstance(cell, dict):
                continue
            out[task][name] = {}
            for metric in cell:
                values = [r["tasks"][task][name][metric] for r in runs]
                if metric != "n_users" and all(v is not None for v in values):
                    out[task][name][metric] = round(float(np.mean(values)), 4)
    return out


def _data(cfg: Config, args: argparse.Namespace) -> list[dict[str, Any]]:
    """What every version is scored with (the evaluation's tasks and lists); none without versions."""
    if not args.versions:
        return []
    from embedding_jobs.data.interactions import read_mart

    facts = read_mart(cfg, "fct_interactions")
    fixed = read_manifest(cfg.raw_dir).fixed_split
    tasks = build_tasks(
        read_mart(cfg, "dim_items"),
        facts,
        read_mart(cfg, "fct_eval_interactions"),
        full_catalogue=fixed,
        max_users=user_cap(cfg),
        seed=cfg.evaluate.seed,
    )
    consumed, weak = baselines.user_item_lists(facts)
    data = {"tasks": tasks, "pop": baselines.item_popularity(facts), "consumed": consumed, "weak": weak}
    data["fixed"] = fixed
    data["none"] = pd.Series(dtype=object)
    data["served_only"] = args.served_only
    data["shares"] = args.shares
    data["partners"] = None
    if args.partners:  # the partners an HGNN export writes (embedding_jobs/partners.py)
        items, edges = read_mart(cfg, "dim_items").sort_values("item_id"), read_mart(cfg, "fct_item_edges")
        data["partners"] = Partners.from_edges(
            edges["src_item_id"].to_numpy(),
            edges["dst_item_id"].to_numpy(),
            items["item_id"].to_numpy(),
            items["content_type"].to_numpy(),
        )
    return [data]


def main() -> None:
    """Parse arguments, score every version, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a gfm data directory after `gfm run`")
    parser.add_argument(
        "--versions",
        nargs="*",
        default=[],
        help="2T-HGNN two-tower versions (each names its HGNN); none with --add: only join earlier runs",
    )
    parser.add_argument(
        "--served-only",
        action="store_true",
        help="score the towers alone, HGNN-kNN and the served rule only, each as the report reads them "
        "(every item's serve.mixture_depth nearest); without it the exact mixture is read too, which "
        "costs minutes a rule on Yelp2018",
    )
    parser.add_argument(
        "--add",
        nargs="*",
        type=Path,
        default=[],
        help="earlier JSON files of this script on the same data dir: their runs join the means "
        "(versions scored in separate calls, say while others still train)",
    )
    parser.add_argument(
        "--shares",
        nargs="*",
        type=float,
        default=[],
        help="the served rule at these mixture shares beside two_tower.mixture_share; "
        "read on the test users, so a diagnostic, not a way to choose the share",
    )
    parser.add_argument(
        "--partners",
        action="store_true",
        help="also read each item's HGNN softmax over its graph partners (two_tower.mixture_reads), "
        "alone and in the served rule at every share",
    )
    parser.add_argument("--note", default="", help="how the versions were trained, kept in the JSON")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    args = parser.parse_args()
    if any(not 0.0 < a < 1.0 for a in args.shares):
        parser.error("--shares are strictly between 0 and 1 (0 is the towers alone, scored anyway)")
    if not args.versions and not args.add:
        parser.error("name --versions to score, or --add earlier JSON files to join")
    cfg = Config.load(data_dir=args.data_dir)
    runs = [{"version": v} | run(cfg, v, data) for data in _data(cfg, args) for v in args.versions]
    earlier = [r for path in args.add for r in json.loads(path.read_text())["runs"]]
    runs += [r for r in earlier if r["version"] not in args.versions]
    report: dict[str, Any] = {"data_dir": str(args.data_dir), "added_from": [str(p) for p in args.add]}
    report["note"] = args.note
    report["runs"] = runs
    report["mean"] = _means(runs)
    print(json.dumps(report["mean"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
