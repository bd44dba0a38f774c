"""How much of the generator's true item groups each item space recovers: neighbour purity.

    python benchmarks/group_purity.py --data-dir DIR --out benchmarks/results/group_purity_communities.json

Synthetic data only (``raw/_truth/item_groups.parquet``). For every item, its ``k`` nearest
other items (cosine) in a space; purity is the share of them in the item's own true group, next to
chance (the sum of squared group shares). Spaces: the latest HGNN export, the text features, the
training co-consumption itself (the cosine of items' consumer sets, what item-kNN ranks by) and
truncated SVDs of that matrix (a low-rank denoising of it). If co-consumption's own neighbours are
rarely in the same group, no model reading it can know the groups well, and the Oracle, which is
told them, is out of reach.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from embedding_jobs.data.interactions import read_mart
from embedding_jobs.export import read_vectors
from embedding_jobs.text_features import text_features_path
from gfm.config import Config
from gfm.naming import export_path
from gfm.versioning import latest_version


def purity(groups: np.ndarray, sim: np.ndarray, k: int) -> float:
    """Share of each item's ``k`` most similar other items that share its group."""
    sim = sim.copy()
    np.fill_diagonal(sim, -np.inf)
    top = np.argpartition(-sim, k, axis=1)[:, :k]
    return float((groups[top] == groups[:, None]).mean())


def cosine(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity matrix of the rows."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
    out: np.ndarray = unit @ unit.T
    return out


def main() -> None:
    """Measure every space and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--ranks", type=int, nargs="*", default=[24, 64, 128], help="SVD ranks")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    cfg = Config.load(data_dir=args.data_dir)
    truth = pd.read_parquet(cfg.raw_dir / "_truth" / "item_groups.parquet").set_index("item_id")["group_id"]
    hgnn_version = latest_version(cfg.embeddings_dir / "hgnn")
    if hgnn_version is None:
        raise SystemExit(f"no HGNN export under {cfg.embeddings_dir / 'hgnn'}: run `gfm train hgnn` first")
    ids, hgnn = read_vectors(export_path(cfg.embeddings_dir, "hgnn", hgnn_version, "item"))
    groups = truth.reindex(ids).to_numpy()
    shares = pd.Series(groups).value_counts(normalize=True)
    text_ids, text = read_vectors(text_features_path(cfg))
    text = pd.DataFrame(text, index=text_ids).reindex(ids).to_numpy()
    facts = read_mart(cfg, "fct_interactions")
    facts = facts[facts["is_consumed"].astype(bool) & facts["item_id"].isin(ids)]
    users = pd.factorize(facts["user_id"])[0]
    cols = pd.Index(ids).get_indexer(facts["item_id"])
    consumed = sp.csr_matrix((np.ones(len(facts)), (users, cols)), shape=(users.max() + 1, len(ids)))
    consumed.data[:] = 1.0  # who consumed, not how often
    co = (consumed.T @ consumed).toarray()
    norm = np.sqrt(np.diag(co)).clip(1e-12)
    co = co / norm[:, None] / norm[None, :]
    spaces = {
        f"HGNN ({hgnn_version})": cosine(hgnn),
        "text": cosine(text),
        "co-consumption (item-kNN's cosine)": co,
    }
    for rank in args.ranks:
        u, s, _ = svds(sp.csr_matrix(co), k=rank)
        spaces[f"co-consumption, rank-{rank} SVD"] = cosine(u * s)
    result = {
        "data_dir": str(args.data_dir),
        "k": args.k,
        "n_items": len(ids),
        "n_groups": len(shares),
        "chance": float((shares**2).sum()),
        "purity": {name: purity(groups, sim, args.k) for name, sim in spaces.items()},
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
