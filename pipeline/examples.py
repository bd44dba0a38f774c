"""Example searches and recommendations printed at the end of ``gfm run``.

They go through the same code a product service uses (the live Milvus aliases and the Feast
online store), so a green run shows the published version answering real queries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from rich.table import Table

from gfm.config import Config
from gfm.progress import console

if TYPE_CHECKING:
    from vector_index.search import Hit


def print_examples(cfg: Config, version: str, n_users: int = 2, k: int = 5) -> None:
    """Print similar items for one item per content type and recommendations for a few users.

    The first user's recommendations are also shown from the HGNN's vectors, read as the service's
    ``model=hgnn`` reads them (a mixture of the user's items' neighbourhoods).
    """
    from feature_repo.client import EmbeddingClient
    from vector_index.mixture import HgnnRecommender
    from vector_index.ops import client_for
    from vector_index.search import VectorSearcher
    from vector_index.users import ConsumedItems

    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["item_id", "content_type", "title"])
    titles = items.set_index("item_id")["title"].to_dict()
    types = items.set_index("item_id")["content_type"].to_dict()
    searcher = VectorSearcher(client_for(cfg), cfg.index, "item", "two_tower")

    console.rule(f"[bold]example searches ({version})")
    for content_type, group in items.groupby("content_type"):
        query = int(group["item_id"].iloc[0])
        hits = searcher.search(searcher.get_vector(query), k=k + 1, exclude_ids=[query])[0][:k]
        console.print(_hits_table(f"similar to [{content_type}] {titles[query]!r}", hits, titles, types))

    consumed = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet", columns=["user_id", "item_id"])
    client = EmbeddingClient(cfg)
    for user_id in consumed["user_id"].drop_duplicates().head(n_users):
        vector = client.get_user_embedding(int(user_id), model="two_tower")
        if vector is None:
            continue
        seen = consumed.loc[consumed["user_id"] == user_id, "item_id"].astype(int).tolist()
        hits = searcher.search(vector, k=k, exclude_ids=seen)[0]
        title = f"recommendations for user {int(user_id)} ({len(seen)} items in training)"
        console.print(_hits_table(title, hits, titles, types))

    hgnn = VectorSearcher(client_for(cfg), cfg.index, "item", "hgnn")
    by_user = ConsumedItems.from_marts(cfg.marts_dir)
    user_id = int(consumed["user_id"].iloc[0])
    if by_user.get(user_id):
        hits = HgnnRecommender(cfg).recommend(hgnn, by_user.get(user_id), k)
        title = f"recommendations for user {user_id} from the HGNN vectors (model=hgnn)"
        console.print(_hits_table(title, hits, titles, types))


def _hits_table(title: str, hits: list[Hit], titles: dict[int, str], types: dict[int, str]) -> Table:
    table = Table(title=title)
    for col in ("item_id", "type", "title", "score"):
        table.add_column(col)
    for hit in hits:
        table.add_row(
            str(hit.id), types.get(hit.id, "?"), str(titles.get(hit.id, "?"))[:60], f"{hit.score:.3f}"
        )
    return table
