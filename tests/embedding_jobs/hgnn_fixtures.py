"""Tiny hand-written marts (dim_items, fct_item_edges) for the embedding-job tests.

Items belong to one of four topics; co-consumption edges only join items of the same topic, so a
model that learns from the graph must score a held-out same-topic pair above a random pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gfm.config import Config

TOPICS = [
    ("a detective hunts a killer in the fog", "crime"),
    ("slow recipes from a grandmother's kitchen", "food"),
    ("rockets, black holes and distant galaxies", "science"),
    ("empires rise and fall in ancient wars", "history"),
]


def write_marts(
    marts_dir: Path,
    *,
    n_audiobooks: int = 24,
    n_podcasts: int = 36,
    n_isolated: int = 3,
    edges_per_item: int = 4,
    seed: int = 0,
    cross_type: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write dim_items.parquet and fct_item_edges.parquet following docs/contracts.md section 2."""
    rng = np.random.default_rng(seed)
    rows = []
    item_id = 1000
    for ctype, n in (("audiobook", n_audiobooks), ("podcast", n_podcasts)):
        for i in range(n + n_isolated):
            text, genre = TOPICS[i % len(TOPICS)]
            rows.append(
                {
                    "item_id": item_id,
                    "content_type": ctype,
                    "title": f"{ctype} {i}: {text.split(' ')[1]}",
                    "description": f"A {ctype} where {text}.",
                    "language": "en",
                    "genre": genre,
                    "creator_id": f"c{i % 5}",
                    "published_at": pd.Timestamp("2026-01-01", tz="UTC"),
                    "n_train_users": 0 if i >= n else 5,
                    "is_cold": i >= n,
                    "topic": i % len(TOPICS),
                    "isolated": i >= n,
                }
            )
            item_id += 1
    items = pd.DataFrame(rows)
    linked = items[~items["isolated"]]
    edges = set()
    for _, row in linked.iterrows():
        same = linked[(linked["topic"] == row["topic"]) & (linked["item_id"] != row["item_id"])]
        if not cross_type:
            same = same[same["content_type"] == row["content_type"]]
        for other in rng.choice(same["item_id"].to_numpy(), size=edges_per_item, replace=False):
            a, b = int(row["item_id"]), int(other)
            ta = items.loc[items["item_id"] == a, "content_type"].iloc[0]
            tb = items.loc[items["item_id"] == b, "content_type"].iloc[0]
            if (ta, a) > (tb, b):
                a, b, ta, tb = b, a, tb, ta
            edges.add((a, b, ta, tb))
    fct = pd.DataFrame(sorted(edges), columns=["src_item_id", "dst_item_id", "src_type", "dst_type"])
    fct["relation"] = fct["src_type"] + "__" + fct["dst_type"]
    fct["n_co_users"] = rng.integers(2, 9, size=len(fct)).astype("int64")
    fct["co_user_weight"] = fct["n_co_users"] / 4.0  # as if every co-user consumed four items
    marts_dir.mkdir(parents=True, exist_ok=True)
    items.drop(columns=["topic", "isolated"]).to_parquet(marts_dir / "dim_items.parquet", index=False)
    fct.to_parquet(marts_dir / "fct_item_edges.parquet", index=False)
    return items, fct


def tiny_config(data_dir: Path, **hgnn: object) -> Config:
    """A config sized for tests: small dims, few epochs, CPU."""
    base = {
        "hidden_dim": 32,
        "out_dim": 32,
        "fanouts": [5, 3],
        "epochs": 6,
        "batch_size": 64,
        "negatives": 4,
        "lr": 1e-2,
        "device": "cpu",
    }
    base.update(hgnn)
    return Config(data_dir=data_dir, hgnn=base, text={"batch_size": 32})  # type: ignore[arg-type]
