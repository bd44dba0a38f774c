"""How well text search finds an item by its own title: HGNN text path against plain text-kNN.

    python benchmarks/text_search.py --data-dir /tmp/ts --prepare --out benchmarks/results/text_search.json

``--prepare`` generates a small synthetic catalogue (``--users``, ``--podcasts``, ``--audiobooks``)
and runs ``gfm transform``; otherwise the data dir needs marts. Then:

1. Text features for every item (MiniLM, ``embedding_jobs.text_features``).
2. ``--held`` items with co-consumption edges are held out: every edge touching them is removed
   and an HGNN is trained on what is left (``--epochs``; other settings as configured).
3. The items are embedded twice with that model: with the held-out items' edges removed (they are
   *new*: their vectors come from the text-only path, as for an item published before anyone
   listened to it) and with their edges back (*unseen in training*, but with neighbours at export,
   as ``export_hgnn`` embeds items that arrived after training).
4. Each held-out item's title is the query. Its rank among all items (and among its own type) is
   taken for: the HGNN query vector (``embedding_jobs.text_query.text_only_forward``, what
   ``GET /v1/search?q=`` sends to Milvus) against each published space, and plain text-kNN (the
   title's text vector against the items' text vectors: title, description and genre).

Search is exact (numpy inner products), as Milvus's FLAT index is at this size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embedding_jobs.export import read_vectors
from embedding_jobs.text_features import TextEncoder, resolve_model_path, text_features_path
from embedding_jobs.text_query import text_only_forward
from embedding_jobs.train_hgnn import embed_all, fit_hgnn, load_hgnn_graph
from gfm.config import Config

K = 10


def prepare(data_dir: Path, sizes: dict[str, int]) -> None:
    """Generate a small catalogue and build its marts (``gfm generate``, ``gfm transform``)."""
    env = {**os.environ, **{f"GFM__GENERATE__{k.upper()}": str(v) for k, v in sizes.items()}}
    script = Path(sys.executable).with_name("gfm")
    for args in (["generate"], ["transform"]):
        cmd = [str(script), "--data-dir", str(data_dir), *args]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


def held_out(cfg: Config, n: int, seed: int) -> np.ndarray:
    """``n`` item ids, drawn among items that have at least one co-consumption edge."""
    edges = pd.read_parquet(cfg.marts_dir / "fct_item_edges.parquet", columns=["src_item_id", "dst_item_id"])
    linked = np.unique(np.concatenate([edges.src_item_id.to_numpy(), edges.dst_item_id.to_numpy()]))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(linked, size=min(n, len(linked)), replace=False))


def ranks(queries: np.ndarray, space: np.ndarray, targets: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """1-based rank of each query's target among the allowed rows (ties count against the target)."""
    scores = queries @ space.T
    scores[~allowed] = -np.inf
    own = scores[np.arange(len(targets)), targets]
    rank: np.ndarray = (scores >= own[:, None]).sum(1)
    return rank


def summary(rank: np.ndarray) -> dict[str, float]:
    """Share at rank <= K, MRR and the median rank."""
    return {
        f"hit@{K}": float((rank <= K).mean()),
        "mrr": float((1.0 / rank).mean()),
        "median_rank": float(np.median(rank)),
    }


def run(cfg: Config, n_held: int, seed: int) -> dict[str, Any]:
    """Train on the graph without the held-out items' edges and rank every held-out title."""
    started = time.perf_counter()
    graph, _ = load_hgnn_graph(cfg)  # builds (and caches) the text features
    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["item_id", "content_type", "title"])
    held = held_out(cfg, n_held, seed)
    drop: dict[tuple[str, str], np.ndarray] = {}
    for key, (a, b) in graph.pairs.items():
        touch = np.isin(graph.item_ids[key[0]][a], held) | np.isin(graph.item_ids[key[1]][b], held)
        drop[key] = np.flatnonzero(touch)
    train_graph = graph.without_pairs(drop)
    device = torch.device("cpu")
    model, stats = fit_hgnn(train_graph, cfg.hgnn, device)
    spaces = {
        "new": embed_all(model, train_graph, device),
        "unseen_with_edges": embed_all(model, graph, device),
    }

    all_ids = np.concatenate([graph.item_ids[t] for t in graph.node_types])  # the spaces' row order
    all_types = np.repeat(graph.node_types, [len(graph.item_ids[t]) for t in graph.node_types])
    row_of = {int(i): r for r, i in enumerate(all_ids)}
    text_ids, text_vectors = read_vectors(text_features_path(cfg))
    text_space = text_vectors[np.searchsorted(text_ids, all_ids)]

    queries = items.set_index("item_id").loc[held]
    targets = np.array([row_of[int(i)] for i in held])
    encoder = TextEncoder(resolve_model_path(cfg.text), cfg.text.max_length, device="cpu")
    title_vectors = encoder.encode(queries.title.astype(str).tolist())
    hgnn_queries = text_only_forward(model, torch.from_numpy(title_vectors)).numpy()

    everything = np.ones((len(held), len(all_ids)), dtype=bool)
    same_type = all_types[None, :] == queries.content_type.to_numpy()[:, None]
    results: dict[str, Any] = {}
    for scope, allowed in (("all_types", everything), ("own_type", same_type)):
        results[scope] = {"text_knn": summary(ranks(title_vectors, text_space, targets, allowed))}
        for name, emb in spaces.items():
            space = torch.cat([emb[t] for t in graph.node_types]).numpy()
            results[scope][f"hgnn_text_path__{name}"] = summary(ranks(hgnn_queries, space, targets, allowed))
    return {
        "k": K,
        "n_items": len(all_ids),
        "n_items_by_type": graph.num_nodes,
        "n_held_out": len(held),
        "n_edges": graph.num_edges,
        "n_train_edges": train_graph.num_edges,
        "seed": seed,
        "hgnn": cfg.hgnn.model_dump(mode="json"),
        "train_seconds": stats.seconds,
        "seconds": time.perf_counter() - started,
        "results": results,
        "duplicate_titles": int(items.title.duplicated(keep=False).sum()),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[tuple[float, str, str], dict[str, float]]:
    """Mean hit@K and MRR over seeds per (isolate share, scope, method)."""
    groups: dict[tuple[float, str, str], list[dict[str, float]]] = {}
    for r in runs:
        for scope, rows in r["results"].items():
            for method, row in rows.items():
                groups.setdefault((r["isolate_share"], scope, method), []).append(row)
    return {
        key: {m: float(np.mean([row[m] for row in rows])) for m in (f"hit@{K}", "mrr")}
        for key, rows in groups.items()
    }


def main() -> None:
    """Parse arguments, run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument(
        "--prepare", action="store_true", help="generate and transform a small catalogue first"
    )
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--podcasts", type=int, default=600)
    parser.add_argument("--audiobooks", type=int, default=300)
    parser.add_argument("--held", type=int, default=200, help="held-out items (queries)")
    parser.add_argument("--epochs", type=int, default=40, help="HGNN epochs (the pipeline's default: 40)")
    parser.add_argument(
        "--isolate-shares",
        type=float,
        nargs="+",
        default=[0.0, 0.2],
        help="hgnn.isolate_share per variant (0: the default model; .2: seeds trained without messages)",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="each: the held-out sample and hgnn.seed"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/text_search.json"))
    args = parser.parse_args()
    if args.prepare:
        sizes = {"users": args.users, "podcasts": args.podcasts, "audiobooks": args.audiobooks}
        prepare(args.data_dir, sizes)
    base = Config.load(data_dir=args.data_dir)
    runs = []
    for share in args.isolate_shares:
        for seed in args.seeds:
            update = {"epochs": args.epochs, "device": "cpu", "isolate_share": share, "seed": seed}
            cfg = base.model_copy(update={"hgnn": base.hgnn.model_copy(update=update)})
            runs.append({"isolate_share": share, **run(cfg, args.held, seed)})
    means = summarise(runs)
    print(f"means over seeds {args.seeds}")
    print(f"{'isolate':<8} {'scope':<10} {'method':<34} {'hit@10':>7} {'mrr':>6}")
    for (share, scope, method), row in means.items():
        print(f"{share:<8} {scope:<10} {method:<34} {row['hit@10']:7.3f} {row['mrr']:6.3f}")
    manifest = args.data_dir / "raw" / "_manifest.json"
    generator = json.loads(manifest.read_text()).get("generator") if manifest.exists() else None
    summary = [{"isolate_share": k[0], "scope": k[1], "method": k[2], **v} for k, v in means.items()]
    out = {
        "generator": generator,
        "data_dir": str(args.data_dir),
        "seeds": args.seeds,
        "means": summary,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
