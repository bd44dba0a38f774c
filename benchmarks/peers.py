"""The collaborative-filtering peers alone on a data dir's split: item-kNN and LightGCN.

    python benchmarks/peers.py --data-dir DIR --epochs 100 400 --out benchmarks/results/peers_yelp.json

For a dataset whose gfm models were trained elsewhere, or a GPU machine without the rest of the
stack: it needs only the marts (``dim_items``, ``fct_interactions``, ``fct_eval_interactions``) and
the raw manifest. Both peers are scored with the evaluation's protocol (``embedding_jobs.evaluate``;
on a published split over all its test users and the whole catalogue, as ``gfm evaluate`` does):
HR@10, MRR, Recall@20 and NDCG@20 per content type. LightGCN is trained from scratch for each
``--epochs`` value and seed, so one run shows whether more epochs still help. LightGCN runs on CUDA when present (``evaluate.device``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from embedding_jobs.data.interactions import read_mart
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.lightgcn import train_lightgcn
from embedding_jobs.evaluate.peers import ItemKNN, lightgcn_scores
from embedding_jobs.evaluate.protocol import EvalTask, build_tasks, headline_keys, score, user_cap
from gfm.config import Config
from ingest.manifest import read_manifest


def _cells(tasks: list[EvalTask], scorer: Any, cfg: Config) -> dict[str, dict[str, Any]]:
    out = {}
    for task in tasks:
        scored = score(task, scorer(task), cfg.evaluate)
        out[task.name] = {k: scored.get(k) for k in headline_keys(cfg.evaluate)}
    return out


def main() -> None:
    """Parse arguments, fit and score the peers, print and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a gfm data dir with marts")
    parser.add_argument("--epochs", type=int, nargs="+", default=[100], help="LightGCN epochs to score at")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="LightGCN seeds")
    parser.add_argument("--lightgcn-only", action="store_true", help="leave out item-kNN and Popularity")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cfg = Config.load(data_dir=args.data_dir)
    ec = cfg.evaluate
    dim_items = read_mart(cfg, "dim_items")
    facts = read_mart(cfg, "fct_interactions")
    evals = read_mart(cfg, "fct_eval_interactions")
    fixed = read_manifest(cfg.raw_dir).fixed_split
    tasks = build_tasks(dim_items, facts, evals, full_catalogue=fixed, max_users=user_cap(cfg), seed=ec.seed)
    pop = baselines.item_popularity(facts)
    item_ids = dim_items["item_id"].to_numpy(dtype="int64")
    result: dict[str, Any] = {"data_dir": str(args.data_dir), "fixed_split": fixed, "models": {}}
    if not args.lightgcn_only:
        result["models"]["Popularity"] = _cells(tasks, lambda t: baselines.popularity(t, pop), cfg)
        started = time.perf_counter()
        knn = ItemKNN.fit(facts, item_ids)
        result["models"]["item-kNN"] = _cells(tasks, lambda t: knn.scorer(t, pop), cfg)
        result["item_knn_seconds"] = time.perf_counter() - started
        print(json.dumps(result["models"]), flush=True)
    runs = []
    for seed in args.seeds:
        for epochs in args.epochs:
            fit = train_lightgcn(
                facts, item_ids, ec.model_copy(update={"lightgcn_epochs": epochs}), seed=seed
            )
            cells = _cells(tasks, lambda t, fit=fit: lightgcn_scores(t, fit, pop), cfg)
            row = {
                "seed": seed,
                "epochs": epochs,
                "seconds": fit.seconds,
                "device": fit.device,
                "loss_last_epoch": fit.losses[-1],
                "cells": cells,
            }
            runs.append(row)
            print(json.dumps(row), flush=True)
            result["lightgcn"] = runs
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
