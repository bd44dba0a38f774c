"""The HGNN's item vectors as if some training pairs had never happened.

The two-tower's random validation slice (``two_tower.val_share``) is drawn from the training
pairs, and the item graph is counted from every training pair: the slice's pairs are edges,
they shape each item's co-consumption sketch, and the HGNN's vectors carry them. A selection
run that reads those vectors is handed part of the slice's answer (``benchmarks/validation_leak.py``
measured HGNN-kNN finding the slice's pairs 15% easier, relative to the test's, than a leak-free
reader on Yelp2018), and a model that leans on them looks better on the slice than it is.

Here the graph is recounted without the slice's pairs by the marts' rules
(``embedding_jobs.data.edge_count``) and the trained HGNN is run over it once: its weights are
shared by every item, so without learned per-item tables (``hgnn.id_embeddings``,
``hgnn.item_id_dim``) an item's vector follows from its features and its edges alone, and the
recounted graph removes what the slice's pairs put into it. The test pairs are absent from the
exported graph in the same way. (With per-item tables the rows were trained on every edge; the
recount then removes the slice's edges but not what those rows learned from them.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.edge_count import count_item_edges
from embedding_jobs.data.graph import HeteroGraph, graph_from_frames
from embedding_jobs.data.interactions import Catalogue
from embedding_jobs.train_hgnn import embed_all, load_trained_hgnn
from gfm.config import Config
from gfm.errors import NotFoundError
from gfm.progress import console

__all__ = ["catalogue_without", "hgnn_without", "recounted_graph", "without_pairs"]


def recounted_graph(graph: HeteroGraph, consumptions: pd.DataFrame, cfg: Config) -> HeteroGraph:
    """``graph``'s items and node features with the edges of ``consumptions`` (``cfg.graph`` rules).

    Args:
        graph: The graph of the marts (its items and features are kept).
        consumptions: ``user_id``, ``item_id`` and ``content_type`` of the consumptions to count.
        cfg: The config (its ``graph`` section holds the rules the marts were built with).

    """
    items = pd.DataFrame(
        {
            "item_id": np.concatenate([graph.item_ids[t] for t in graph.node_types]),
            "content_type": np.repeat(graph.node_types, [len(graph.item_ids[t]) for t in graph.node_types]),
        }
    )
    recounted = graph_from_frames(
        items, count_item_edges(consumptions, cfg.graph), weight=cfg.hgnn.edge_weight
    )
    recounted.features = graph.features
    return recounted


def without_pairs(frame: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` whose (``user_id``, ``item_id``) is not one of ``pairs``."""
    keys = pairs[["user_id", "item_id"]].drop_duplicates()
    left = frame.merge(keys, on=["user_id", "item_id"], how="left", indicator=True)
    return left.loc[left["_merge"] == "left_only"].drop(columns="_merge")


def hgnn_without(cfg: Config, version: str, consumptions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Item ids and the HGNN ``version``'s vectors over the graph recounted from ``consumptions``.

    Args:
        cfg: The config (where the checkpoint and marts are; the graph rules).
        version: The HGNN version whose checkpoint embeds the recounted graph.
        consumptions: ``user_id``, ``item_id`` and ``content_type`` of the training consumptions
            to count, the held-out pairs already left out (``without_pairs``).

    Raises:
        NotFoundError: If the HGNN checkpoint does not exist.

    """
    model, graph, device = load_trained_hgnn(cfg, version)
    recounted = recounted_graph(graph, consumptions, cfg)
    console.print(
        f"two-tower: item graph recounted without the held-out pairs: "
        f"{recounted.num_edges:,} edges (the marts have {graph.num_edges:,})"
    )
    with torch.no_grad():
        emb = embed_all(model, recounted, device)
    ids = np.concatenate([graph.item_ids[t] for t in graph.node_types])
    vectors = torch.cat([emb[t].cpu() for t in graph.node_types]).numpy()
    return ids, vectors


def catalogue_without(
    cfg: Config, cat: Catalogue, hgnn_version: str | None, kept: pd.DataFrame
) -> Catalogue | None:
    """``cat`` with HGNN vectors made from ``kept`` alone (None without HGNN inputs or checkpoint).

    Args:
        cfg: The config (``two_tower.history_vectors`` says what a history is made of).
        cat: The training catalogue.
        hgnn_version: The HGNN version the two-tower reads; None: it reads none.
        kept: ``fct_interactions`` of the training window less the held-out pairs.

    """
    if hgnn_version is None:
        return None
    consumed = kept.loc[kept["is_consumed"].astype(bool), ["user_id", "item_id", "content_type"]]
    try:
        ids, vectors = hgnn_without(cfg, hgnn_version, consumed)
    except NotFoundError:
        console.print(
            f"two-tower: no checkpoint of HGNN {hgnn_version}, so the validation slice's pairs stay "
            "in the HGNN vectors its selection runs read"
        )
        return None
    return cat.with_hgnn(ids, vectors, cfg.two_tower.history_vectors)
