"""What the co-consumption sketch carries on its own, before any training, at several sizes.

    python benchmarks/sketch_dims.py --data-dir DIR --dims 256 1024 4096 \\
        --out benchmarks/results/sketch_dims_yelp.json

The HGNN's input beside (or, for sources without item text, instead of) text is each item's
co-consumption sketch (``embedding_jobs/data/sketch.py``): its row of the cosine-normalised edge
matrix, projected on fixed random identity vectors. Inner products of sketches estimate the
cosines item-kNN ranks by, with an error of about ``1/sqrt(dim)``. This measures, with no model at
all, the unit sketches used as item vectors:

* the HGNN's health check (``embedding_jobs.hgnn_check``): the same held-out tenth of the edges
  as ``gfm train hgnn`` (same seed), sketched from the training graph only, each held-out pair
  ranked among all items of the partner's type, beside item-kNN on the same pairs;
* sketch-kNN under the evaluation protocol (``benchmarks/hgnn_variants.py``'s ``hgnn_knn``: the
  user is the mean of their training items' vectors), sketched from the whole training graph,
  beside item-kNN; with Recall@20 on a fixed split.

A trained HGNN that scores below its own input's figure has lost signal its input had. ``DIR``
needs marts (``gfm transform``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from benchmarks.hgnn_variants import hgnn_knn
from embedding_jobs.data.graph import build_graph
from embedding_jobs.data.sketch import neighbourhood_sketch
from embedding_jobs.hgnn_check import heldout_item_ranking
from embedding_jobs.train_hgnn import holdout_edges
from gfm.config import Config


def _unit(sketch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {t: F.normalize(v, dim=1) for t, v in sketch.items()}


def measure(cfg: Config, dim: int) -> dict[str, Any]:
    """The health check and sketch-kNN of the raw sketch at one size."""
    started = time.perf_counter()
    graph = build_graph(cfg.marts_dir, None)
    held = holdout_edges(graph, cfg.hgnn.seed)  # the split gfm train hgnn holds out
    train_graph = graph.without_pairs(held)
    held_pairs = {k: (graph.pairs[k][0][i], graph.pairs[k][1][i]) for k, i in held.items()}
    check = heldout_item_ranking(
        _unit(neighbourhood_sketch(train_graph, dim)), train_graph, held_pairs, seed=cfg.hgnn.seed
    )
    full = _unit(neighbourhood_sketch(graph, dim))
    frame = pd.DataFrame(
        {
            "item_id": np.concatenate([graph.item_ids[t] for t in full]),
            "vector": list(torch.cat([full[t] for t in full]).numpy()),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "items.parquet"
        frame.to_parquet(path)
        knn = hgnn_knn(cfg, path)
    return {
        "dim": dim,
        "check": check["hr"],
        "sketch_knn": knn,
        "n_items": int(sum(graph.num_nodes.values())),
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    """Parse arguments, measure every size, print a line each and write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a gfm data dir with marts")
    parser.add_argument("--dims", type=int, nargs="+", default=[256, 1024, 4096], help="sketch sizes")
    parser.add_argument("--out", type=Path, default=Path("bench_results/sketch_dims.json"))
    args = parser.parse_args()
    cfg = Config.load(data_dir=args.data_dir)
    rows = []
    for dim in args.dims:
        row = measure(cfg, dim)
        rows.append(row)
        print(json.dumps({"dim": dim, "check": row["check"], "sketch_knn": row["sketch_knn"]}), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps({"data_dir": str(cfg.data_dir), "seed": cfg.hgnn.seed, "rows": rows}, indent=2) + "\n"
        )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
