"""What the item graph's degree cap keeps, ranked by co-users or by similarity, on a LightGCN split.

    python benchmarks/edge_rank.py --path ../shared/data/yelp2018_lightgcn --out edge_rank.json

The HGNN sees co-consumption only through ``fct_item_edges``: every pair with ``min_support``
co-users, cut to the ``degree_cap`` top edges of both ends (``graph.degree_cap_rank``). This
script counts the edges with the job-side copy of the dbt rules
(``embedding_jobs.data.edge_count``, tested against the mart) under both rankings and scores the
users of the split's test file with what the graph alone says, no training:

- **first order** (graph-kNN): a user's score for item ``i`` is the sum over their training items
  ``j`` of the cosine-normalised edge weight ``w_ij / sqrt(d_i d_j)``, item-kNN restricted to the
  kept edges;
- **second order**: the same with each item's row of that matrix unit-normalised and compared with
  the rows of the user's items, which is what the HGNN's co-consumption sketch estimates
  (``embedding_jobs.data.sketch``) before any training.

Beside them, over every co-consumed pair (no support, no cap): item-kNN (cosine, the report's
peer) and the same with each user weighted by 1 / (their items) (the similarity the cap ranks by).
Recall@20 / NDCG@20 over all test users, training items excluded, as ``gfm evaluate`` scores a
fixed split (item-kNN here reproduces the report's figure).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from embedding_jobs.data.edge_count import count_item_edges
from gfm.config import GraphConfig

K = 20


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    users, items = [], []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) > 1:
            users += [int(parts[0])] * (len(parts) - 1)
            items += [int(x) for x in parts[1:]]
    return np.asarray(users), np.asarray(items)


def _binary(users: np.ndarray, items: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=shape)
    m.data[:] = 1.0
    return m


def _score(train: sp.csr_matrix, test: sp.csr_matrix, scores: Any) -> dict[str, float]:
    """Recall@20 and NDCG@20 of ``scores(users) -> (B, n_items)`` over every test user."""
    users = np.flatnonzero(test.getnnz(axis=1))
    disc = 1.0 / np.log2(np.arange(2, K + 2))
    recall = ndcg = 0.0
    for start in range(0, len(users), 2048):
        u = users[start : start + 2048]
        s = np.asarray(scores(u), dtype=np.float32)
        s[train[u].nonzero()] = -np.inf
        top = np.argpartition(-s, K, axis=1)[:, :K]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(s, top, 1), axis=1), 1)
        truth = test[u]
        hit = np.asarray(truth[np.arange(len(u))[:, None], top].todense()) > 0
        n = np.asarray(truth.sum(axis=1)).ravel()
        recall += float((hit.sum(axis=1) / n).sum())
        ideal = np.array([disc[: min(int(m), K)].sum() for m in n])
        ndcg += float(((hit * disc).sum(axis=1) / ideal).sum())
    return {"recall@20": recall / len(users), "ndcg@20": ndcg / len(users), "n_users": len(users)}


def _cosine_rows(weights: sp.csr_matrix) -> sp.csr_matrix:
    degree = np.asarray(weights.sum(axis=1)).ravel()
    inv = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    return (sp.diags(inv) @ weights @ sp.diags(inv)).tocsr()


def graph_scores(edges: pd.DataFrame, train: sp.csr_matrix, test: sp.csr_matrix) -> dict[str, Any]:
    """First- and second-order scores of the kept edges (weights: co-user counts, as the HGNN's)."""
    n = train.shape[1]
    a, b = edges.src_item_id.to_numpy(), edges.dst_item_id.to_numpy()
    w = edges.n_co_users.to_numpy(np.float64)
    adj = _cosine_rows(sp.csr_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n)))
    norms = np.sqrt(np.asarray(adj.multiply(adj).sum(axis=1)).ravel())
    unit = (sp.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0)) @ adj).tocsr()
    unit_t = unit.T.tocsr()
    return {
        "edges": len(edges),
        "mean_n_co_users": float(w.mean()),
        "mean_similarity": float(edges.similarity.mean()),
        "first_order": _score(train, test, lambda u: (train[u] @ adj).toarray()),
        "second_order": _score(train, test, lambda u: ((train[u] @ unit) @ unit_t).toarray()),
    }


def every_pair_scores(train: sp.csr_matrix, test: sp.csr_matrix) -> dict[str, Any]:
    """item-kNN over every pair, plain and with users weighted by 1 / (their items)."""
    consumers = np.asarray(train.sum(axis=0)).ravel()
    inv = sp.diags(1.0 / np.sqrt(np.maximum(consumers, 1)))
    per_user = sp.diags(1.0 / np.maximum(np.asarray(train.sum(axis=1)).ravel(), 1))
    plain = (inv @ (train.T @ train) @ inv).tocsr()
    plain.setdiag(0)
    weighted = (inv @ (train.T @ per_user @ train) @ inv).tocsr()
    weighted.setdiag(0)
    return {
        "item-kNN": _score(train, test, lambda u: (train[u] @ plain).toarray()),
        "item-kNN, users weighted by 1/items": _score(train, test, lambda u: (train[u] @ weighted).toarray()),
    }


def main() -> None:
    """Count the edges under both rankings, score them and write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--path", type=Path, required=True, help="a LightGCN-format dir (train.txt, test.txt)"
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON to write")
    args = parser.parse_args()
    tr, te = _read(args.path / "train.txt"), _read(args.path / "test.txt")
    shape = (int(max(tr[0].max(), te[0].max())) + 1, int(max(tr[1].max(), te[1].max())) + 1)
    train, test = _binary(*tr, shape), _binary(*te, shape)
    consumptions = pd.DataFrame({"user_id": tr[0], "item_id": tr[1], "content_type": "item"})
    out: dict[str, Any] = {"source": str(args.path), "users": shape[0], "items": shape[1], "graph": {}}
    for rank in ("co_users", "similarity"):
        rules = GraphConfig(degree_cap_rank=rank)
        start = time.perf_counter()
        edges = count_item_edges(consumptions, rules)
        counted = time.perf_counter() - start
        out["graph"][rank] = {"count_seconds": round(counted, 1), **graph_scores(edges, train, test)}
        out["graph"][rank]["rules"] = rules.model_dump()
        print(rank, json.dumps(out["graph"][rank]), flush=True)
    out["every_pair"] = every_pair_scores(train, test)
    print(json.dumps(out["every_pair"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
