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

Two more readouts per HGNN version split that loss (round 35): **on its edges**, the HGNN's
``P(i | j)`` kept only where ``j`` and ``i`` share an edge (what the HGNN puts beside its edges
is dropped; its ranking within them is kept), and **edges where they reach**, the edges'
transition row wherever ``j`` has edges into ``i``'s type and the HGNN's row where it has none
(what the HGNN adds to the edges). Both read the graph at scoring time, so they are diagnostics,
not servable vectors.
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
ON_EDGES = "HGNN on its edges"
REACH = "edges where they reach, HGNN elsewhere"


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


def hgnn_split(
    vectors: tuple[np.ndarray, np.ndarray],
    temperature: float,
    item_ids: np.ndarray,
    types: np.ndarray,
    trans: sp.csr_matrix,
    rows_at_once: int = 2048,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The HGNN's ``P(i | j)`` within each type on its edges' support, and the edges' rows where they reach.

    Returns:
        ``(on_edges, edges_where_they_reach)``, both ``(I, I)`` over ``item_ids``: the first keeps
        the HGNN's softmax (over every item of ``i``'s type but ``j``) at ``trans``'s nonzeros;
        the second is ``trans`` for each (row, type) with an edge and the HGNN's dense row elsewhere.

    """
    ids, vecs = vectors
    unit = vecs[np.searchsorted(ids, item_ids)].astype(np.float32)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    kinds = [np.flatnonzero(types == t) for t in np.unique(types)]
    on_edges, elsewhere = [], []
    for lo in range(0, len(item_ids), rows_at_once):
        hi = min(lo + rows_at_once, len(item_ids))
        logits = unit[lo:hi] @ unit.T / temperature
        logits[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
        probs = np.zeros_like(logits)
        block = trans[lo:hi]
        for cols in kinds:
            x = np.exp(logits[:, cols] - logits[:, cols].max(axis=1, keepdims=True))
            probs[:, cols] = np.nan_to_num(x / x.sum(axis=1, keepdims=True))  # a type of one item
            # rows with no edge into this type take the HGNN's row
            unreached = np.flatnonzero(np.asarray(block[:, cols].sum(axis=1)).ravel() == 0)
            elsewhere.append(
                sp.coo_matrix(
                    (
                        probs[np.ix_(unreached, cols)].ravel(),
                        (np.repeat(unreached + lo, len(cols)), np.tile(cols, len(unreached))),
                    ),
                    shape=trans.shape,
                )
            )
        coo = block.tocoo()
        on_edges.append(sp.coo_matrix((probs[coo.row, coo.col], (coo.row + lo, coo.col)), shape=trans.shape))
    on: sp.csr_matrix = sum(on_edges[1:], on_edges[0]).tocsr()
    reach: sp.csr_matrix = (trans + sum(elsewhere[1:], elsewhere[0])).tocsr()
    return on.astype(np.float32), reach.astype(np.float32)


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
    trans = transition(edge_matrix(edges, knn.item_ids, WEIGHTS[0]), types)
    for version in hgnn_versions:  # default arguments pin each version's scorer in its lambda
        vectors = read_vectors(export_path(cfg.embeddings_dir, "hgnn", version, "item"))
        temperature = hgnn_temperature(cfg, version)
        hgnn = hgnn_scorer(vectors, temperature, consumed, weak, pop, cfg.serve.mixture_depth)
        readouts[f"HGNN-kNN, {version}"] = lambda t, p, h=hgnn: h(t)
        if temperature is None:  # a margin-loss HGNN has no softmax to split
            continue
        on_edges, reach = hgnn_split(vectors, temperature, knn.item_ids, types, trans)
        for name, sim in ((ON_EDGES, on_edges), (REACH, reach)):
            readouts[f"{name}, {version}"] = ItemKNN(knn.user_ids, knn.item_ids, knn.train, sim).scorer
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
        for name in ("HGNN-kNN", ON_EDGES, REACH):  # the HGNN seeds' means, to set against the edges
            cells = [
                out[task.name][f"{name}, {v}"] for v in hgnn_versions if f"{name}, {v}" in out[task.name]
            ]
            if len(cells) > 1:
                out[task.name][f"{name}, mean of {len(cells)}"] = {
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
    parser.add_argument("--note", default="", help="how the named versions were trained, kept in the JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cfg = Config.load(data_dir=args.data_dir)
    result = {
        "data_dir": str(args.data_dir),
        "hgnn_versions": args.hgnn_version,
        "note": args.note,
        "tasks": run(cfg, args.hgnn_version),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
