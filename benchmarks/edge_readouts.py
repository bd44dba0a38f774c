"""What the item graph's edges score when read the way HGNN-kNN reads the HGNN, and as cosine item-kNN.

    python benchmarks/edge_readouts.py --data-dir .gfm --out benchmarks/results/edge_readouts.json

The graph probe (``../shared/reference/graph_signal_probe.py``) compares HGNN-kNN with item-kNN
over ``fct_item_edges``: a user's score for item ``i`` is the sum over their training items ``j`` of
``w_ij / sqrt(d_i d_j)`` (``d``: consumers), a cosine. HGNN-kNN reads the HGNN as a mixture of
its softmax neighbourhoods (round 27): the sum over ``j`` of ``P(i | j)`` within ``i``'s type. An
HGNN that learnt its edges perfectly would give ``P(i | j) = w_ij / sum of w_jk over the type's
items k``. This script scores both readouts of the edges themselves, with no training, for each
edge weight the HGNN can train on (``hgnn.edge_weight``), beside item-kNN, Popularity and, when
named, HGNN versions' HGNN-kNN (and their mean over model seeds), all with the evaluation's tasks and scorer (HR@10 per content
type, cold-in-type users; Recall@20 / NDCG@20 on a fixed split). The gap between the two readouts
is what the readout costs; the gap between HGNN-kNN and the transition readout is what the
training loses.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from embedding_jobs.checkpoint import hgnn_temperature
from embedding_jobs.data.interactions import read_mart
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.peers import ItemKNN
from embedding_jobs.evaluate.protocol import build_tasks, score, user_cap
from embedding_jobs.evaluate.run import hgnn_scorer
from embedding_jobs.export import read_vectors
from gfm.config import Config
from gfm.naming import export_path
from ingest.manifest import read_manifest

WEIGHTS = ("n_co_users", "co_user_weight")


def edge_matrix(edges: pd.DataFrame, item_ids: np.ndarray, weight: str) -> sp.csr_matrix:
    """``(I, I)`` symmetric edge weights over ``item_ids`` (sorted), the larger of both directions."""
    src = np.searchsorted(item_ids, edges["src_item_id"].to_numpy(dtype=np.int64))
    dst = np.searchsorted(item_ids, edges["dst_item_id"].to_numpy(dtype=np.int64))
    w = edges[weight].to_numpy(dtype=np.float64)
    n = len(item_ids)
    m = sp.csr_matrix((w, (src, dst)), shape=(n, n))
    return m.maximum(m.T).tocsr()


def cosine(w: sp.csr_matrix, consumers: np.ndarray) -> sp.csr_matrix:
    """``w_ij / sqrt(d_i d_j)``: the probe's item-kNN over the edges."""
    scale = sp.diags(1.0 / np.sqrt(np.maximum(consumers, 1.0)))
    return (scale @ w @ scale).tocsr().astype(np.float32)


def transition(w: sp.csr_matrix, types: np.ndarray) -> sp.csr_matrix:
    """``w_ji`` over the sum of row ``j``'s weights to ``i``'s type: ``P(i | j)`` within each type."""
    out = sp.csr_matrix(w.shape, dtype=np.float64)
    for t in np.unique(types):
        in_type = sp.diags((types == t).astype(np.float64))
        part = (w @ in_type).tocsr()
        rows = np.asarray(part.sum(axis=1)).ravel()
        out = out + sp.diags(np.where(rows > 0, 1.0 / np.maximum(rows, 1e-12), 0.0)) @ part
    return out.tocsr().astype(np.float32)


def run(cfg: Config, hgnn_versions: list[str]) -> dict[str, Any]:
    """Every readout's cells per task."""
    dim_items = read_mart(cfg, "dim_items")
    facts = read_mart(cfg, "fct_interactions")
    evals = read_mart(cfg, "fct_eval_interactions")
    fixed = read_manifest(cfg.raw_dir).fixed_split
    # the report's users: its per-type cap and sample (all of a published split's test users)
    tasks = build_tasks(
        dim_items, facts, evals, full_catalogue=fixed, max_users=user_cap(cfg), seed=cfg.evaluate.seed
    )
    pop = baselines.item_popularity(facts)
    knn = ItemKNN.fit(facts, dim_items["item_id"].to_numpy(dtype="int64"))
    types = dim_items.set_index("item_id")["content_type"].reindex(knn.item_ids).to_numpy()
    consumers = np.asarray(knn.train.sum(axis=0)).ravel()
    edges = read_mart(cfg, "fct_item_edges")
    readouts: dict[str, Any] = {"item-kNN": knn.scorer, "Popularity": lambda t, p: baselines.popularity(t, p)}
    for weight in WEIGHTS:
        w = edge_matrix(edges, knn.item_ids, weight)
        for name, sim in (("cosine", cosine(w, consumers)), ("transition", transition(w, types))):
            graph = ItemKNN(knn.user_ids, knn.item_ids, knn.train, sim)
            readouts[f"edges ({weight}), {name}"] = graph.scorer
    consumed, weak = baselines.user_item_lists(facts)
    for version in hgnn_versions:  # default arguments pin each version's scorer in its lambda
        vectors = read_vectors(export_path(cfg.embeddings_dir, "hgnn", version, "item"))
        temperature = hgnn_temperature(cfg, version)
        hgnn = hgnn_scorer(vectors, temperature, consumed, weak, pop, cfg.serve.mixture_depth)
        readouts[f"HGNN-kNN, {version}"] = lambda t, p, h=hgnn: h(t)
    keys = (f"hr@{cfg.evaluate.k}", f"recall@{cfg.evaluate.recall_k}", f"ndcg@{cfg.evaluate.recall_k}")
    out: dict[str, Any] = {}
    for task in tasks:
        out[task.name] = {}
        for name, readout in readouts.items():
            s = score(task, readout(task, pop), cfg.evaluate)
            out[task.name][name] = {
                **{k: round(s[k], 4) for k in keys},
                "cold_in_type": s["cold_in_type"][f"hr@{cfg.evaluate.k}"],
                "n_users": s["n_users"],
            }
            print(task.name, name, out[task.name][name], flush=True)
        if len(hgnn_versions) > 1:  # the HGNN seeds' mean, the figure to set against the edges
            cells = [out[task.name][f"HGNN-kNN, {v}"] for v in hgnn_versions]
            out[task.name][f"HGNN-kNN, mean of {len(cells)}"] = {
                k: round(float(np.mean([c[k] for c in cells])), 4) for k in keys
            }
    return out


def main() -> None:
    """Parse arguments, score every readout, write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a gfm data directory after `gfm run`")
    parser.add_argument(
        "--hgnn-version",
        nargs="*",
        default=[],
        help="also score these HGNN versions' HGNN-kNN (several: model seeds, with their mean)",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cfg = Config.load(data_dir=args.data_dir)
    result = {
        "data_dir": str(args.data_dir),
        "hgnn_versions": args.hgnn_version,
        "tasks": run(cfg, args.hgnn_version),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
