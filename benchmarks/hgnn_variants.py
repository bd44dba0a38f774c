"""What each HGNN change does to the graph signal in its vectors, one change at a time.

    python benchmarks/hgnn_variants.py --data-dir .gfm --seeds 1 2 3 --out bench_results/hgnn_variants.json

It needs a data directory with marts and text features (``gfm transform`` and ``gfm train text``,
or ``benchmarks/quality.py --prepare``). For every variant and seed it trains an HGNN and reports:

* the health check (``embedding_jobs.hgnn_check``): item-to-item HR@10 of held-out co-consumption
  pairs among all items of the partner's type, beside Popularity and item-kNN on the same pairs;
* HGNN-kNN HR@10 per content type under the evaluation protocol (the user is the mean of the
  HGNN vectors of their training items), beside Popularity and item-kNN on the same tasks.

The variants start from the first version of the model ("v1": text only, max pooling, margin
loss, uniform negatives, 8 epochs) and add one change at a time, ending at the current default;
a variant is a dict of ``hgnn`` config overrides, so any further candidate is one line
(``EXTRA`` holds the ones that were measured and not kept).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import build_tasks
from embedding_jobs.export import read_vectors
from embedding_jobs.train_hgnn import train_hgnn
from gfm.config import Config
from gfm.errors import NotFoundError
from gfm.versioning import new_version
from ingest.manifest import read_manifest

V1 = {
    "item_id_dim": 0,
    "sketch_dim": 0,
    "aggr": "max",
    "loss": "margin",
    "negative_power": 0.0,
    "edge_weights": False,
    "epochs": 8,
}
VARIANTS: dict[str, dict[str, Any]] = {
    "v1 (text, max pool, margin, uniform negatives, 8 epochs)": V1,
    "+ 40 epochs": {**V1, "epochs": 40},
    "+ sampled softmax (256 shared uniform negatives, t .1)": {
        **V1,
        "epochs": 40,
        "loss": "softmax",
        "temperature": 0.1,
    },
    "+ mean aggregation": {**V1, "epochs": 40, "loss": "softmax", "temperature": 0.1, "aggr": "mean"},
    "+ edges drawn by co-users": {"item_id_dim": 0, "sketch_dim": 0, "temperature": 0.1},
    "+ temperature .05": {"sketch_dim": 0},
    "+ co-consumption sketch, 256-d (the default)": {},
}
EXTRA: dict[str, dict[str, Any]] = {  # candidates beyond the one-at-a-time ladder (--variants NAME)
    "default + degree^0.75 negatives": {"negative_power": 0.75},
    "default + item ID vectors (64-d, dropout .5)": {"item_id_dim": 64},
    "default, max aggregation": {"aggr": "max"},
    "default + isolated seeds (.2)": {"isolate_share": 0.2},
    "default, sketch 512-d": {"sketch_dim": 512},
    # the balanced sampler draws the median relation's size from every relation, so the dense
    # type's own relation (podcast-podcast: 70% of the default data's edges) gets a third of the
    # training pairs, and in communities mode a sixth; every edge once gives it its share
    "default, every edge once (no relation balancing)": {"balanced_sampler": False},
    # sources without item text (Yelp2018): what replaces the text
    "no text: learned ID embeddings": {"id_embeddings": True},
    "no text: the sketch alone": {"text_features": False},
    # the sketch's size: a JL projection's error grows with the catalogue (log n / dim)
    "default, sketch 1024-d": {"sketch_dim": 1024},
    "no text: the sketch alone, 1024-d": {"text_features": False, "sketch_dim": 1024},
    "no text: the sketch alone, 2048-d": {"text_features": False, "sketch_dim": 2048},
    "no text: the sketch alone, 1024-d, 256-d output": {
        "text_features": False,
        "sketch_dim": 1024,
        "out_dim": 256,
    },
    # logit adjustment by log popularity during training: the cosine then learns co-consumption
    # with part of the popularity taken out (.5: about item-kNN's normalisation; 1: PMI)
    "default + popularity logit adjustment .5": {"popularity_adjust": 0.5},
    "default + popularity logit adjustment 1": {"popularity_adjust": 1.0},
    # training length: round 7 found the HGNN under-trained at 40 epochs (balanced sampler); the
    # same steps sooner (a larger step size) would keep the CPU demo's time
    "default, 120 epochs": {"epochs": 120},
    "default, lr .01": {"lr": 0.01},
}


def hgnn_knn(cfg: Config, items_path: Path) -> dict[str, float | None]:
    """HGNN-kNN HR@k per content type with the evaluation protocol, beside Popularity and item-kNN."""
    from embedding_jobs.data.interactions import read_mart
    from embedding_jobs.evaluate.peers import ItemKNN
    from embedding_jobs.evaluate.protocol import score
    from embedding_jobs.evaluate.run import hgnn_scorer

    dim_items = read_mart(cfg, "dim_items")
    facts = read_mart(cfg, "fct_interactions")
    evals = read_mart(cfg, "fct_eval_interactions")
    fixed = read_manifest(cfg.raw_dir).fixed_split  # a published split ranks the whole catalogue
    tasks = build_tasks(dim_items, facts, evals, full_catalogue=fixed)
    pop = baselines.item_popularity(facts)
    consumed, weak = baselines.user_item_lists(facts)
    vectors = read_vectors(items_path)
    knn = ItemKNN.fit(facts, dim_items["item_id"].to_numpy(dtype="int64"))
    metric = f"hr@{cfg.evaluate.k}"
    out: dict[str, float | None] = {}
    text = _text_vectors(cfg)
    # the evaluation's readout of the variant's vectors (round 27: a mixture at its softmax temperature)
    readout = hgnn_scorer(
        vectors,
        cfg.hgnn.temperature if cfg.hgnn.loss == "softmax" else None,
        consumed,
        weak,
        pop,
        cfg.serve.mixture_depth,
    )
    for task in tasks:
        scored = score(task, readout(task), cfg.evaluate)
        out[task.name] = scored[metric]
        knn_scored = score(task, knn.scorer(task, pop), cfg.evaluate)
        if fixed:  # the published metric of a fixed split (LightGCN's Recall@20)
            recall = f"recall@{cfg.evaluate.recall_k}"
            out[f"{task.name} {recall}"] = scored.get(recall)
            out[f"{task.name} {recall} (item-kNN)"] = knn_scored.get(recall)
        out[f"{task.name} new-item tier"] = scored["by_tier"]["new"][metric]
        if text is not None:
            scored = score(task, baselines.mean_vector(task, text, consumed, weak, pop), cfg.evaluate)
            out[f"{task.name} new-item tier (text-kNN)"] = scored["by_tier"]["new"][metric]
        out[f"{task.name} (Popularity)"] = score(task, baselines.popularity(task, pop), cfg.evaluate)[metric]
        out[f"{task.name} (item-kNN)"] = knn_scored[metric]
    return out


TEXT_FEATURES: list[Path] = []  # set by --text-features


def _text_vectors(cfg: Config) -> tuple[np.ndarray, np.ndarray] | None:
    """The text vectors, for text-kNN on the new-item tier (None where there are none)."""
    from embedding_jobs.text_features import text_features_path

    try:
        path = TEXT_FEATURES[0] if TEXT_FEATURES else text_features_path(cfg)
    except NotFoundError:  # no text encoder installed here, so no text features were made
        return None
    return read_vectors(path) if path.exists() else None


def run(
    cfg: Config, seeds: list[int], variants: dict[str, dict[str, Any]], out: Path | None = None
) -> dict[str, Any]:
    """Train every variant for every seed; returns per-seed rows and their means.

    With ``out``, the JSON is rewritten after every row, so a run cut short keeps what it measured.
    """
    rows: list[dict[str, Any]] = []
    for name, overrides in variants.items():
        for seed in seeds:
            hcfg = cfg.hgnn.model_copy(update={**overrides, "seed": seed})
            run_cfg = cfg.model_copy(update={"hgnn": hcfg})
            started = time.perf_counter()
            result = train_hgnn(run_cfg, new_version(f"{name}|{seed}"))
            row = {
                "variant": name,
                "seed": seed,
                "overrides": overrides,
                "check": result.metrics["heldout_item_hr@10"],
                "check_by_relation": result.metrics["heldout_item_hr@10_by_relation"],
                "link_auc": result.metrics["heldout_link_auc"],
                "hgnn_knn": hgnn_knn(run_cfg, result.items_path),
                "seconds": time.perf_counter() - started,
                "version": result.version,
            }
            rows.append(row)
            print(json.dumps({k: row[k] for k in ("variant", "seed", "check", "hgnn_knn")}), flush=True)
            if out is not None:
                _write(out, {"rows": rows, "summary": summarise(rows), "data_dir": str(cfg.data_dir)})
    return {"rows": rows, "summary": summarise(rows), "data_dir": str(cfg.data_dir)}


def _write(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean over seeds of every numeric cell, per variant."""
    out: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        cells = out.setdefault(row["variant"], {})
        flat = {f"check {k}": v for k, v in row["check"].items()}
        flat.update({f"HR@10 {k}": v for k, v in row["hgnn_knn"].items()})
        flat["link AUC"] = row["link_auc"]
        for key, value in flat.items():
            if value is not None:
                cells.setdefault(key, []).append(float(value))
    return {v: {k: statistics.fmean(x) for k, x in cells.items()} for v, cells in out.items()}


def print_table(summary: dict[str, dict[str, float]]) -> None:
    """One row per variant, one column per cell (means over seeds)."""
    columns = sorted({k for cells in summary.values() for k in cells})
    print("| variant | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for variant, cells in summary.items():
        print(f"| {variant} | " + " | ".join(f"{cells.get(c, np.nan):.3f}" for c in columns) + " |")


def _read_text_features_from(path: Path) -> None:
    """Make ``train_hgnn`` read its text features from ``path`` instead of building them."""
    from embedding_jobs import train_hgnn as module
    from embedding_jobs.data.graph import build_graph

    def load(cfg: Config) -> tuple[Any, list[Path]]:
        marts = cfg.marts_dir
        return build_graph(marts, None if cfg.hgnn.id_embeddings else path), [
            marts / "dim_items.parquet",
            marts / "fct_item_edges.parquet",
            path,
        ]

    module.load_hgnn_graph = load
    TEXT_FEATURES.append(path)


def main() -> None:
    """Parse arguments, run the variants, print the table and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a gfm data dir with marts + text")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="model seeds")
    parser.add_argument("--variants", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--out", type=Path, default=Path("bench_results/hgnn_variants.json"))
    parser.add_argument(
        "--text-features",
        type=Path,
        help="an existing text-features Parquet (item_id, vector) to read instead of running the text "
        "encoder: for machines without the encoder package, e.g. the GPU machine",
    )
    parser.add_argument("--epochs", type=int, help="override hgnn.epochs for every variant")
    args = parser.parse_args()
    cfg = Config.load(data_dir=args.data_dir)
    if args.epochs:
        cfg = cfg.model_copy(update={"hgnn": cfg.hgnn.model_copy(update={"epochs": args.epochs})})
    if args.text_features:
        _read_text_features_from(args.text_features)
    every = {**VARIANTS, **EXTRA}
    variants = {k: v for k, v in every.items() if k in args.variants} if args.variants else dict(VARIANTS)
    result = run(cfg, args.seeds, variants, args.out)
    print_table(result["summary"])
    _write(args.out, result)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
