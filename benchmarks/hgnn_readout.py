"""How a user's history is read against the HGNN's vectors: one mean vector, or a mixture of items.

    python benchmarks/hgnn_readout.py --data-dir .gfm --out benchmarks/results/hgnn_readout.json

The HGNN is trained as a sampled softmax over co-consumed pairs at a low temperature ``t``
(``hgnn.temperature``, .05): it learns ``P(b | a) ∝ exp(cos(a, b) / t)``. HGNN-kNN reads a user
as the mean of their items' unit vectors and ranks by cosine with it, the linear approximation of
that model, which holds only where cosines are small against ``t``. Read as the model it was
trained to be, a user's next item is a mixture over their history,
``score(j) = sum_{i in history} exp((cos(i, j) - 1) / t)``, in which each history item votes for its
own near neighbours and the broad direction every vector shares (popularity) cancels out
(round 12's "mixture"). The **normalised mixture** (``baselines.item_mixture``, the evaluation's
HGNN-kNN since round 27) divides each history item's votes by their sum over the type's items
other than itself, so each item contributes the distribution P(j | i) the softmax was trained to
give, and an item that is close to many candidates does not outweigh the others. This benchmark
scores the version's exported HGNN vectors under every readout with the evaluation protocol,
beside item-kNN and Popularity, trains nothing and changes nothing.

``--temperatures`` lists the mixture's temperatures (the training temperature first by default).

``--spectral K [K ...]`` adds a training-free reference: what symmetric item vectors of that size
can hold of item-kNN's signal at all. The edge mart's co-user counts, normalised as item-kNN's
cosine (``n_co_users / sqrt(consumers_i consumers_j)``), are factorised by their top ``K``
eigenvectors, ``v_i = U_i sqrt(lambda)`` over the positive eigenvalues (the best rank-``K``
positive semi-definite approximation), and read as unit vectors by the same mean-vector protocol.
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

from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.metrics import ChunkScorer
from embedding_jobs.evaluate.peers import ItemKNN
from embedding_jobs.evaluate.protocol import EvalTask, build_tasks, headline_keys, score
from embedding_jobs.export import read_vectors
from gfm.config import Config
from ingest.manifest import read_manifest


def mixture_scorer(
    task: EvalTask,
    vectors: tuple[np.ndarray, np.ndarray],
    consumed: pd.Series,
    popularity: pd.Series,
    temperature: float,
) -> ChunkScorer:
    """Per user, ``sum_{i in history} exp((cos(i, j) - 1) / t)`` over the task's candidates ``j``.

    A user without a history item that has a vector gets popularity, as in every baseline.
    """
    ids, vecs = vectors
    unit = torch.from_numpy(vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)).float()
    lookup = pd.Series(np.arange(len(ids)), index=ids)
    cand_pos = lookup.reindex(task.item_ids)
    known = torch.from_numpy(cand_pos.notna().to_numpy())
    cand = torch.zeros((len(task.item_ids), unit.shape[1]))
    cand[known] = unit[torch.from_numpy(cand_pos[known.numpy()].to_numpy(dtype=np.int64))]
    pop = baselines.pop_column(task, popularity).squeeze(1)
    histories = []
    for user in task.user_ids.tolist():
        items = consumed.get(user)
        pos = lookup.reindex(items if items is not None else []).dropna().to_numpy(dtype=np.int64)
        histories.append(pos)

    def scorer(start: int, stop: int) -> torch.Tensor:
        out = torch.zeros((stop - start, len(task.item_ids)))
        for row, pos in enumerate(histories[start:stop]):
            if len(pos) == 0:
                out[row] = pop
                continue
            sims = unit[torch.from_numpy(pos)] @ cand.T
            out[row] = torch.exp((sims - 1.0) / temperature).sum(0) + 1e-6 * pop
        return out

    return scorer


def spectral_vectors(cfg: Config, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the best rank-``dim`` PSD approximation of the edge mart's item-kNN cosine.

    Not normalised here: ``baselines.mean_vector`` reads them as unit vectors, as it reads the HGNN's.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["item_id", "n_train_users"])
    edges = pd.read_parquet(cfg.marts_dir / "fct_item_edges.parquet")
    ids = items["item_id"].to_numpy(dtype=np.int64)
    order = np.argsort(ids)
    src = order[np.searchsorted(ids, edges["src_item_id"].to_numpy(dtype=np.int64), sorter=order)]
    dst = order[np.searchsorted(ids, edges["dst_item_id"].to_numpy(dtype=np.int64), sorter=order)]
    w = edges["n_co_users"].to_numpy(dtype=np.float64)
    n = len(ids)
    adj = sp.csr_matrix(
        (np.concatenate([w, w]), (np.concatenate([src, dst]), np.concatenate([dst, src]))), (n, n)
    )
    inv = sp.diags(1.0 / np.sqrt(np.maximum(items["n_train_users"].to_numpy(dtype=np.float64), 1.0)))
    values, vectors = eigsh((inv @ adj @ inv).tocsr(), k=dim, which="LA")
    keep = values > 0
    out = vectors[:, keep] * np.sqrt(values[keep])
    return ids, out.astype(np.float32)


def run(
    cfg: Config,
    items_path: Path,
    temperatures: list[float],
    spectral: list[int] | None = None,
    served_depth: int = 0,
) -> dict[str, Any]:
    """Score every readout on every task of the data directory; returns the JSON report."""
    from embedding_jobs.data.interactions import read_mart

    dim_items = read_mart(cfg, "dim_items")
    facts = read_mart(cfg, "fct_interactions")
    evals = read_mart(cfg, "fct_eval_interactions")
    fixed = read_manifest(cfg.raw_dir).fixed_split
    tasks = build_tasks(dim_items, facts, evals, full_catalogue=fixed)
    pop = baselines.item_popularity(facts)
    consumed, weak = baselines.user_item_lists(facts)
    vectors = read_vectors(items_path)
    knn = ItemKNN.fit(facts, dim_items["item_id"].to_numpy(dtype="int64"))
    keys = headline_keys(cfg.evaluate)
    spectra = [spectral_vectors(cfg, dim) for dim in spectral or []]
    out: dict[str, Any] = {}
    for task in tasks:
        if fixed and task.name != "all":
            continue
        cells: dict[str, Any] = {}

        def keep(
            name: str, scored: dict[str, Any], cells: dict[str, Any] = cells, task: EvalTask = task
        ) -> None:
            cells[name] = {k: scored[k] for k in keys} | {
                "cold_in_type": scored["cold_in_type"][f"hr@{cfg.evaluate.k}"]
            }
            print(
                task.name, name, {k: round(v, 4) for k, v in cells[name].items() if v is not None}, flush=True
            )

        start = time.perf_counter()
        keep("Popularity", score(task, baselines.popularity(task, pop), cfg.evaluate))
        keep("item-kNN", score(task, knn.scorer(task, pop), cfg.evaluate))
        keep(
            "HGNN-kNN, mean vector",
            score(task, baselines.mean_vector(task, vectors, consumed, weak, pop), cfg.evaluate),
        )
        for t in temperatures:
            scorer = mixture_scorer(task, vectors, consumed, pop, t)
            keep(f"HGNN-kNN, mixture t={t:g}", score(task, scorer, cfg.evaluate))
            scorer = baselines.item_mixture(task, vectors, consumed, weak, pop, t)
            keep(f"HGNN-kNN, normalised mixture t={t:g}", score(task, scorer, cfg.evaluate))
            if served_depth:  # the service's reading: each item's nearest served_depth candidates only
                scorer = baselines.item_mixture(task, vectors, consumed, weak, pop, t, depth=served_depth)
                name = f"HGNN-kNN, normalised mixture t={t:g}, {served_depth} neighbours (as served)"
                keep(name, score(task, scorer, cfg.evaluate))
        for dim, spec in zip(spectral or [], spectra, strict=True):
            scored = score(task, baselines.mean_vector(task, spec, consumed, weak, pop), cfg.evaluate)
            keep(f"spectral-kNN, rank {dim} (no training)", scored)
        cells["seconds"] = round(time.perf_counter() - start, 1)
        out[task.name] = cells
    return out


def _mean_hr(runs: list[dict[str, Any]], metric: str) -> dict[str, dict[str, float]]:
    """Per task and readout, the mean of ``metric`` over the runs."""
    out: dict[str, dict[str, float]] = {}
    for task, cells in runs[0]["tasks"].items():
        names = [name for name, cell in cells.items() if isinstance(cell, dict)]
        out[task] = {
            name: round(float(np.mean([r["tasks"][task][name][metric] for r in runs])), 4) for name in names
        }
    return out


def main() -> None:
    """Parse arguments, score, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a gfm data directory after `gfm run`")
    parser.add_argument(
        "--items", type=Path, nargs="+", help="HGNN items.parquet files (default: the newest version's)"
    )
    parser.add_argument(
        "--temperatures", type=float, nargs="+", help="mixture temperatures (default: hgnn.temperature)"
    )
    parser.add_argument("--spectral", type=int, nargs="*", default=[], help="ranks of the spectral reference")
    parser.add_argument(
        "--served-depth",
        type=int,
        default=0,
        help="also score the mixture over each item's N nearest candidates only, as the service reads "
        "Milvus (vector_index.mixture reads 200); 0: not scored",
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    args = parser.parse_args()
    cfg = Config.load(data_dir=args.data_dir)
    items = args.items or [sorted((cfg.embeddings_dir / "hgnn").glob("*/items.parquet"))[-1]]
    temps = args.temperatures or [cfg.hgnn.temperature]
    report: dict[str, Any] = {"data_dir": str(args.data_dir), "hgnn_temperature": cfg.hgnn.temperature}
    if len(items) == 1:  # the shape of the earlier rounds' files
        report |= {
            "items": str(items[0]),
            "tasks": run(cfg, items[0], temps, args.spectral, args.served_depth),
        }
    else:  # several versions (seeds) of the same data: each one's cells and their mean HR@k
        runs = [
            {"items": str(path), "tasks": run(cfg, path, temps, args.spectral, args.served_depth)}
            for path in items
        ]
        report |= {"runs": runs, "mean": _mean_hr(runs, f"hr@{cfg.evaluate.k}")}
        print(json.dumps(report["mean"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
