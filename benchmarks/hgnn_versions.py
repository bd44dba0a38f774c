"""Score HGNN versions already trained (on this machine or a GPU machine) under the evaluation protocol.

    python benchmarks/hgnn_versions.py --data-dir /tmp/yelp VERSION [VERSION ...] --out X.json

Each version's ``models/hgnn/<version>/card.json`` and ``embeddings/hgnn/<version>/items.parquet``
must be in ``--data-dir`` beside the marts it was trained on (a GPU machine's outputs are copied
there: docs/scale.md, section 3). For every version it reports the card's training (epochs, seed,
sketch size, device, seconds, the health check beside item-kNN on the same held-out pairs) and
HGNN-kNN under the evaluation protocol and its readout (since round 27 a mixture of the user's
items' softmax neighbourhoods, ``evaluate.run.hgnn_scorer``; "HGNN-kNN, mean vector" is the earlier
readout, the cosine with the mean of the user's items): HR@10 per content type and, on a fixed split,
Recall@20 and NDCG@20, beside item-kNN and Popularity on the same tasks. No model is trained here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from embedding_jobs.checkpoint import hgnn_temperature
from embedding_jobs.data.interactions import read_mart
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.peers import ItemKNN
from embedding_jobs.evaluate.protocol import build_tasks, score
from embedding_jobs.evaluate.run import hgnn_scorer
from embedding_jobs.export import read_vectors
from gfm.config import Config
from gfm.naming import checkpoint_dir, export_path
from ingest.manifest import read_manifest

CELLS = ("hr@10", "recall@20", "ndcg@20", "n_users")


def _card(cfg: Config, version: str) -> dict[str, Any]:
    """What the version's card says about its training."""
    card = json.loads((checkpoint_dir(cfg.models_dir, "hgnn", version) / "card.json").read_text())
    hgnn = card["config"]["hgnn"]
    return {
        "epochs": len(card["metrics"].get("epoch_losses", [])),
        "seed": hgnn.get("seed"),
        "sketch_dim": hgnn.get("sketch_dim"),
        "text_features": hgnn.get("text_features"),
        "batch_size": hgnn.get("batch_size"),
        "edge_weight": hgnn.get("edge_weight", "n_co_users"),  # cards before the option weighed by co-users
        "isolate_share": hgnn.get("isolate_share"),
        "precision": hgnn.get("precision", "fp32"),  # cards before the option trained in float32
        "device": card.get("extra", {}).get("device"),
        "train_seconds": card.get("timings", {}).get("train_s"),
        "health_check_hr@10": card["metrics"].get("heldout_item_hr@10"),
    }


def score_versions(cfg: Config, versions: list[str]) -> dict[str, Any]:
    """Every version's card and HGNN-kNN cells, with item-kNN and Popularity on the same tasks."""
    dim_items = read_mart(cfg, "dim_items")
    facts = read_mart(cfg, "fct_interactions")
    evals = read_mart(cfg, "fct_eval_interactions")
    tasks = build_tasks(dim_items, facts, evals, full_catalogue=read_manifest(cfg.raw_dir).fixed_split)
    pop = baselines.item_popularity(facts)
    consumed, weak = baselines.user_item_lists(facts)
    knn = ItemKNN.fit(facts, dim_items["item_id"].to_numpy(dtype="int64"))

    def cells(scored: dict[str, Any]) -> dict[str, Any]:
        return {k: scored.get(k) for k in CELLS}

    peers = {
        task.name: {
            "item-kNN": cells(score(task, knn.scorer(task, pop), cfg.evaluate)),
            "Popularity": cells(score(task, baselines.popularity(task, pop), cfg.evaluate)),
        }
        for task in tasks
    }
    out: dict[str, Any] = {"data_dir": str(cfg.data_dir), "peers": peers, "versions": {}}
    for version in versions:
        vectors = read_vectors(export_path(cfg.embeddings_dir, "hgnn", version, "item"))
        temperature = hgnn_temperature(cfg, version)
        readout = hgnn_scorer(vectors, temperature, consumed, weak, pop, cfg.serve.mixture_depth)
        knn_cells = {task.name: cells(score(task, readout(task), cfg.evaluate)) for task in tasks}
        mean_cells = {
            task.name: cells(
                score(task, baselines.mean_vector(task, vectors, consumed, weak, pop), cfg.evaluate)
            )
            for task in tasks
        }
        out["versions"][version] = {
            **_card(cfg, version),
            "HGNN-kNN": knn_cells,
            "HGNN-kNN, mean vector": mean_cells,
        }
        print(json.dumps({"version": version, "HGNN-kNN": knn_cells, "mean": mean_cells}), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("versions", nargs="+", help="HGNN versions in the data dir")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = score_versions(Config.load(data_dir=args.data_dir), args.versions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
