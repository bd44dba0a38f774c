"""Does a random validation slice see its own pairs through the frozen HGNN vectors?

    python benchmarks/validation_leak.py --data-dir DIR --hgnn-version V \\
        --out benchmarks/results/validation_leak_yelp.json

With ``two_tower.val_share`` a random share of the training pairs chooses the two-tower's epochs.
Since 3b17a74 those pairs are absent from the selection runs' histories, but the item graph (and
so the HGNN vectors and the co-consumption sketch they read) is built from every training pair,
the held-out ones included. This script asks how much that helps a model that reads only the
graph: it scores the held-out pairs and the test pairs with the same per-example protocol as the
slice (each pair ranked against every item, the user's other training items, and for the test
its other test items, left out) for

* **HGNN-kNN**: the user's mean HGNN vector (over their training items, less the held-out ones
  for the slice) against every item's;
* **HGNN-kNN over the recounted graph**: the same, but the slice's users and items read the
  HGNN run over the item graph recounted without the slice's pairs
  (``embedding_jobs.held_out_graph``, what the selection runs read since it landed); the test
  still reads the exported vectors;
* **item-kNN** twice: cosine of co-consumption counted over every training pair (as the graph is),
  and over the training pairs less the slice (no leak by construction).

If the slice were as hard as the test for a model that never saw its pairs, leak-free item-kNN's
ratio of slice to test recall is the reference; a larger ratio for HGNN-kNN or leaky item-kNN is
what the graph tells about the held-out pairs. Reads the marts of a finished run (``gfm run``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from embedding_jobs.checkpoint import load_checkpoint
from embedding_jobs.held_out_graph import hgnn_without, without_pairs
from embedding_jobs.two_tower_examples import random_slice
from gfm.config import Config
from gfm.naming import checkpoint_dir


def _per_example_hits(
    scores: np.ndarray, targets: list[np.ndarray], excluded: list[np.ndarray], k: int
) -> tuple[int, int]:
    """Hits at ``k`` of every target, each ranked with its user's ``excluded`` items left out."""
    hits = n = 0
    for row, (tgt, exc) in enumerate(zip(targets, excluded, strict=True)):
        s = scores[row].copy()
        s[exc] = -np.inf
        s[tgt] = -np.inf  # every target is ranked alone: its user's other targets are left out
        top = -np.partition(-s, k - 1)[k - 1]  # the k-th best of what is ranked besides the targets
        hits += int((scores[row][tgt] > top).sum())
        n += len(tgt)
    return hits, n


def measure(data_dir: Path, hgnn_version: str, share: float, seed: int, k: int, users: int) -> dict[str, Any]:
    """Per-example recall@k of the slice and of the test for the three graph readers."""
    marts = data_dir / "marts"
    facts = pd.read_parquet(
        marts / "fct_interactions.parquet", columns=["user_id", "item_id", "content_type", "is_consumed"]
    )
    consumed = facts.loc[facts["is_consumed"].astype(bool), ["user_id", "item_id", "content_type"]]
    entity = consumed[["user_id", "item_id"]]
    entity = entity.sort_values(["user_id", "item_id"]).reset_index(drop=True)
    held = random_slice(len(entity), share, seed)  # as two_tower_examples.validation_slice draws it
    test = pd.read_parquet(marts / "fct_eval_interactions.parquet", columns=["user_id", "item_id"])
    vectors = pd.read_parquet(data_dir / "embeddings" / "hgnn" / hgnn_version / "items.parquet")
    items = np.sort(pd.concat([entity["item_id"], vectors["item_id"]]).unique())
    col = pd.Series(np.arange(len(items)), index=items)
    user_ids = np.sort(entity["user_id"].unique())
    row = pd.Series(np.arange(len(user_ids)), index=user_ids)
    hv = np.zeros((len(items), len(vectors["vector"].iloc[0])), dtype=np.float32)
    hv[col[vectors["item_id"]].to_numpy()] = np.stack(vectors["vector"].to_numpy())
    # the HGNN over the graph recounted without the slice, under the run's own graph rules
    _, card = load_checkpoint(checkpoint_dir(data_dir / "models", "hgnn", hgnn_version), map_location="cpu")
    cfg = Config.model_validate({**card.config, "data_dir": data_dir})
    ids, recounted = hgnn_without(cfg, hgnn_version, without_pairs(consumed, entity.loc[held]))
    hv_without = np.zeros_like(hv)
    hv_without[col[ids].to_numpy()] = recounted

    def matrix(pairs: pd.DataFrame) -> sp.csr_matrix:
        ones = np.ones(len(pairs), dtype=np.float32)
        shape = (len(user_ids), len(items))
        return sp.csr_matrix(
            (ones, (row[pairs["user_id"]].to_numpy(), col[pairs["item_id"]].to_numpy())), shape
        )

    every, kept = matrix(entity), matrix(entity.loc[~held])
    test = test.loc[test["user_id"].isin(row.index) & test["item_id"].isin(col.index)].drop_duplicates()
    test_m = matrix(test)

    def cosine(x: sp.csr_matrix) -> sp.csr_matrix:
        co = (x.T @ x).tocsr()
        co.setdiag(0)
        norm = np.sqrt(np.asarray(x.sum(axis=0)).ravel()).clip(min=1.0)
        return sp.diags(1 / norm) @ co @ sp.diags(1 / norm)

    readers = {"item-kNN (co-consumption of every training pair)": cosine(every)}
    readers["item-kNN (co-consumption without the slice)"] = cosine(kept)
    picked = np.random.default_rng(0).permutation(len(user_ids))[:users]
    out: dict[str, Any] = {}
    for split in ("slice", "test"):
        history = kept if split == "slice" else every  # what the user side reads
        target = (every - kept) if split == "slice" else test_m
        rows = [r for r in picked if target[r].nnz]
        counts: dict[str, list[int]] = {}
        for lo in range(0, len(rows), 500):  # 500 users' dense scores at a time
            part = rows[lo : lo + 500]
            tgt, exc, h = [target[r].indices for r in part], [every[r].indices for r in part], history[part]
            mean = (h @ hv) / np.maximum(np.asarray(h.sum(axis=1)), 1)
            cells = {"HGNN-kNN": mean @ hv.T}
            read = hv_without if split == "slice" else hv  # what the selection runs and export read
            mean = (h @ read) / np.maximum(np.asarray(h.sum(axis=1)), 1)
            cells["HGNN-kNN (graph recounted without the slice)"] = mean @ read.T
            for name, sim in readers.items():
                cells[name] = (h @ sim).toarray()
            for name, scores in cells.items():
                hits, n = _per_example_hits(np.asarray(scores), tgt, exc, k)
                counts.setdefault(name, [0, 0])
                counts[name][0] += hits
                counts[name][1] += n
        for name, (hits, n) in counts.items():
            out.setdefault(name, {})[split] = {"recall@k": hits / n, "pairs": n, "users": len(rows)}
    for cell in out.values():
        cell["slice_over_test"] = cell["slice"]["recall@k"] / max(cell["test"]["recall@k"], 1e-12)
    return out


def main() -> None:
    """Parse arguments, measure, print and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a finished run's data dir")
    parser.add_argument("--hgnn-version", required=True, help="the HGNN export to read")
    parser.add_argument("--share", type=float, default=0.1, help="two_tower.val_share (default 0.1)")
    parser.add_argument("--seed", type=int, default=17, help="two_tower.seed, which draws the slice")
    parser.add_argument("--k", type=int, default=10, help="recall cut-off (the slice's: evaluate.k)")
    parser.add_argument("--users", type=int, default=5000, help="users sampled (seeded) for both splits")
    parser.add_argument("--out", type=Path, help="write the JSON here")
    args = parser.parse_args()
    result = {
        "command": "python benchmarks/validation_leak.py "
        + f"--data-dir DIR --hgnn-version {args.hgnn_version} --share {args.share} --seed {args.seed}",
        "settings": {"share": args.share, "seed": args.seed, "k": args.k, "users": args.users},
        "readers": measure(args.data_dir, args.hgnn_version, args.share, args.seed, args.k, args.users),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
