"""What 2T-HGNN as served costs a request, read over each item's graph partners or its nearest items.

    python benchmarks/served_latency.py --data-dir DIR --users 300 --out benchmarks/results/served_latency.json

After ``gfm run`` in ``DIR``, the live two-tower and HGNN versions are read from the data dir's
Milvus (a Lite file unless ``index.uri`` names a server) the way the search service reads them
(``vector_index.blend.TwoTowerRecommender``, in this process, no HTTP): for the same users, once
with each consumed item's HGNN softmax over its graph partners (``two_tower.mixture_reads:
partners``, the partner file of the live HGNN version) and once over its nearest items. Users are
drawn at random among those with consumed items, with a type each (the content types in turn);
each answer is timed alone, the two readings alternating user by user so that neither runs on a
warmer machine. The JSON holds p50 / p90 / p99 per reading, the history lengths read, and how
often the two top 10s differ. It trains nothing; nothing else should run beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gfm.config import Config  # noqa: E402
from vector_index import close_clients, ops  # noqa: E402
from vector_index.blend import TwoTowerRecommender  # noqa: E402
from vector_index.search import VectorSearcher  # noqa: E402
from vector_index.users import ConsumedItems, ParquetUserVectors  # noqa: E402


def _quantiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 99)} | {
        "mean_ms": round(float(ms.mean()), 2)
    }


def measure(cfg: Config, n_users: int, k: int, seed: int) -> dict[str, Any]:
    """Time both readings for the same users (module docstring)."""
    client = ops.client_for(cfg)
    tower = VectorSearcher(client, cfg.index, "item", "two_tower")
    hgnn = VectorSearcher(client, cfg.index, "item", "hgnn")
    version = tower.info().version
    users = ParquetUserVectors(cfg.embeddings_dir / "two_tower" / version / "users.parquet")
    consumed = ConsumedItems.from_marts(cfg.marts_dir)
    known = consumed.items
    types = tower.content_types
    readings = {"partners": TwoTowerRecommender(cfg), "nearest": TwoTowerRecommender(cfg, nearest_only=True)}
    rule = readings["partners"].rule(version)
    if rule["reads"] != "partners":
        raise SystemExit(
            f"two-tower {version} does not read partners ({rule}): its card is older than round 37"
        )
    rng = np.random.default_rng(seed)
    vectors: dict[int, np.ndarray] = {}
    for user in rng.permutation(consumed.user_ids()).tolist():
        found = users.get(user)
        if found is not None:
            vectors[user] = found
        if len(vectors) == n_users:
            break
    chosen = list(vectors)
    timings: dict[str, list[float]] = {name: [] for name in readings}
    differ, lengths = 0, []
    for _ in range(3):  # warm both paths (Milvus load, the partner file) before timing
        for recommender in readings.values():
            recommender.recommend(
                tower, hgnn, vectors[chosen[0]], consumed.get(chosen[0]), k, known, types[0]
            )
    for n, user in enumerate(chosen):
        vector, items, ctype = vectors[user], consumed.get(user), types[n % len(types)]
        lengths.append(len(items))
        tops = {}
        order = list(readings) if n % 2 == 0 else list(reversed(readings))
        for name in order:
            start = time.perf_counter()
            hits = readings[name].recommend(tower, hgnn, vector, items, k, known, ctype)
            timings[name].append(time.perf_counter() - start)
            tops[name] = [h.id for h in hits]
        differ += tops["partners"] != tops["nearest"]
    close_clients()
    return {
        "two_tower_version": version,
        "hgnn_version": rule["hgnn_version"],
        "depth": cfg.serve.mixture_depth,
        "users": len(chosen),
        "k": k,
        "history_items": {"median": float(np.median(lengths)), "max": int(max(lengths))},
        "latency": {name: _quantiles(t) for name, t in timings.items()},
        "top_k_differs_share": round(differ / max(len(chosen), 1), 3),
    }


def main() -> None:
    """Parse arguments, time both readings, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="a gfm data directory after `gfm run`")
    parser.add_argument("--users", type=int, default=300, help="users timed (each with both readings)")
    parser.add_argument("--k", type=int, default=10, help="results per answer")
    parser.add_argument("--seed", type=int, default=0, help="which users are drawn")
    parser.add_argument("--note", default="", help="where it ran, kept in the JSON")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    args = parser.parse_args()
    cfg = Config.load(data_dir=args.data_dir)
    result = {"data_dir": str(args.data_dir), "note": args.note} | measure(cfg, args.users, args.k, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
