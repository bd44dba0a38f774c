"""The heterogeneous item graph, built from the marts.

Node types are the content types of ``dim_items``; every item is a node, isolated ones included.
Each undirected ``fct_item_edges`` relation ``<a>__<b>`` becomes the edge type
``(a, "co_consumed", b)`` plus its explicit reverse ``(b, "rev_co_consumed", a)``; a same-type
relation becomes one symmetric edge type ``(a, "co_consumed", a)``. Adjacency is stored per edge
type as CSR keyed by the *destination* node (the neighbours a node aggregates from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from embedding_jobs.data.sampler import CSR
from gfm.errors import StageError

__all__ = ["EdgeType", "HeteroGraph", "build_graph", "edge_type_key", "graph_from_frames", "relation_sizes"]

EdgeType = tuple[str, str, str]
CO = "co_consumed"
REV = "rev_co_consumed"


def edge_type_key(edge_type: EdgeType) -> str:
    """Return a string key for an edge type (``src__rel__dst``), usable in ``nn.ModuleDict``."""
    return "__".join(edge_type)


@dataclass
class HeteroGraph:
    """Item graph with per-type local indices and per-edge-type CSR adjacency.

    Attributes:
        node_types: Content types, sorted.
        item_ids: Per type, the global item_id of each local index (sorted ascending).
        csr: Per edge type ``(src, rel, dst)``, CSR over dst local ids with src local ids.
        pairs: Per undirected type pair ``(a, b)`` with ``a <= b``, the edge list as two int64
            arrays of local ids (a-side, b-side); these are the link-prediction targets.
        features: Per type, float32 node features of shape (n_type, dim), or None when the model
            learns ID embeddings instead.
        weights: Per undirected type pair, each edge's co-user count (aligned with ``pairs``), or
            None when the edges carry none.

    """

    node_types: list[str]
    item_ids: dict[str, np.ndarray]
    csr: dict[EdgeType, CSR]
    pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    features: dict[str, torch.Tensor] | None = None
    weights: dict[tuple[str, str], np.ndarray] | None = None
    _lookup: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    # copies of this graph with a co-consumption sketch of each size (``data.sketch.with_sketch``);
    # not an init field, so a ``replace``d graph never inherits another graph's sketches
    _sketched: dict[int, HeteroGraph] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def edge_types(self) -> list[EdgeType]:
        """Every directed edge type, sorted."""
        return sorted(self.csr)

    @property
    def num_nodes(self) -> dict[str, int]:
        """Number of nodes per type."""
        return {t: len(ids) for t, ids in self.item_ids.items()}

    @property
    def num_edges(self) -> int:
        """Number of undirected edges."""
        return sum(len(a) for a, _ in self.pairs.values())

    def locate(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map global item ids to (type index into ``node_types``, local index); -1 when unknown."""
        if self._lookup is None:
            ids = np.concatenate([self.item_ids[t] for t in self.node_types])
            types = np.concatenate([np.full(len(self.item_ids[t]), i) for i, t in enumerate(self.node_types)])
            local = np.concatenate([np.arange(len(self.item_ids[t])) for t in self.node_types])
            order = np.argsort(ids, kind="stable")
            self._lookup = (ids[order], types[order], local[order])
        sorted_ids, types, local = self._lookup
        query = np.asarray(item_ids, dtype=np.int64)
        pos = np.clip(np.searchsorted(sorted_ids, query), 0, max(len(sorted_ids) - 1, 0))
        found = sorted_ids[pos] == query if len(sorted_ids) else np.zeros(len(query), bool)
        return np.where(found, types[pos], -1), np.where(found, local[pos], -1)

    def without_pairs(self, held: dict[tuple[str, str], np.ndarray]) -> HeteroGraph:
        """Copy the graph, leaving out of message passing the given pair positions (held-out links)."""
        pairs, weights = {}, {}
        for key, (a, b) in self.pairs.items():
            keep = np.ones(len(a), bool)
            keep[held.get(key, np.zeros(0, np.int64))] = False
            pairs[key] = (a[keep], b[keep])
            if self.weights is not None:
                weights[key] = self.weights[key][keep]
        return _assemble(
            self.node_types,
            self.item_ids,
            pairs,
            self.features,
            weights if self.weights is not None else None,
        )


def _csr(dst: np.ndarray, src: np.ndarray, n_dst: int) -> CSR:
    order = np.lexsort((src, dst))
    counts = np.bincount(dst, minlength=n_dst)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return CSR(torch.from_numpy(indptr), torch.from_numpy(src[order].astype(np.int64)))


def _assemble(
    node_types: list[str],
    item_ids: dict[str, np.ndarray],
    pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
    features: dict[str, torch.Tensor] | None,
    weights: dict[tuple[str, str], np.ndarray] | None = None,
) -> HeteroGraph:
    csr: dict[EdgeType, CSR] = {}
    n = {t: len(ids) for t, ids in item_ids.items()}
    for (a, b), (ia, ib) in pairs.items():
        if a == b:
            csr[(a, CO, a)] = _csr(np.concatenate([ib, ia]), np.concatenate([ia, ib]), n[a])
        else:
            csr[(a, CO, b)] = _csr(ib, ia, n[b])  # b aggregates from its a-neighbours
            csr[(b, REV, a)] = _csr(ia, ib, n[a])
    return HeteroGraph(node_types, item_ids, csr, pairs, features, weights)


def _place_features(graph: HeteroGraph, ids: np.ndarray, vectors: np.ndarray) -> dict[str, torch.Tensor]:
    types, local = graph.locate(ids)
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    feats: dict[str, torch.Tensor] = {}
    for i, t in enumerate(graph.node_types):
        n = len(graph.item_ids[t])
        table = np.zeros((n, dim), np.float32)
        seen = np.zeros(n, bool)
        sel = types == i
        table[local[sel]] = vectors[sel]
        seen[local[sel]] = True
        if not seen.all():
            first = int(graph.item_ids[t][~seen][0])
            raise StageError(f"{int((~seen).sum())} {t} items have no feature vector, e.g. item_id {first}")
        feats[t] = torch.from_numpy(table)
    return feats


def graph_from_frames(
    items: pd.DataFrame,
    edges: pd.DataFrame,
    features: tuple[np.ndarray, np.ndarray] | None = None,
    weight: str = "n_co_users",
) -> HeteroGraph:
    """Build the graph from ``dim_items`` (item_id, content_type) and ``fct_item_edges`` frames.

    Args:
        items: One row per item.
        edges: One row per undirected edge (src_item_id, dst_item_id, optionally the ``weight``
            column); types come from ``items``.
        features: Optional (item_ids, vectors) arrays; every item must have a vector.
        weight: The column that gives each edge its weight (``graph.weights``), when present.

    Raises:
        StageError: If item ids repeat, an edge names an unknown item, or a feature is missing.

    """
    for col in ("item_id", "content_type"):
        if col not in items:
            raise StageError(f"dim_items has no {col!r} column")
    if items["item_id"].duplicated().any():
        dup = items.loc[items["item_id"].duplicated(), "item_id"].iloc[0]
        raise StageError(f"dim_items repeats item_id {dup}")
    node_types = sorted(items["content_type"].astype(str).unique())
    item_ids = {
        t: np.sort(items.loc[items["content_type"] == t, "item_id"].to_numpy(np.int64)) for t in node_types
    }
    graph = HeteroGraph(node_types, item_ids, {}, {})
    src_t, src_l = graph.locate(edges["src_item_id"].to_numpy(np.int64))
    dst_t, dst_l = graph.locate(edges["dst_item_id"].to_numpy(np.int64))
    unknown = (src_t < 0) | (dst_t < 0)
    if unknown.any():
        bad = edges.loc[unknown, ["src_item_id", "dst_item_id"]].iloc[0].tolist()
        raise StageError(f"{int(unknown.sum())} edges name items missing from dim_items, e.g. {bad}")
    # orient every edge so its type pair is alphabetical (a <= b), then drop self-loops/duplicates
    swap = (src_t > dst_t) | ((src_t == dst_t) & (src_l > dst_l))
    ta, la = np.where(swap, dst_t, src_t), np.where(swap, dst_l, src_l)
    tb, lb = np.where(swap, src_t, dst_t), np.where(swap, src_l, dst_l)
    counts = edges[weight].to_numpy(np.float64) if weight in edges else None
    pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    weights: dict[tuple[str, str], np.ndarray] = {}
    for i, a in enumerate(node_types):
        for j in range(i, len(node_types)):
            sel = (ta == i) & (tb == j) & ~((ta == tb) & (la == lb))
            if sel.any():
                uniq, first = np.unique(np.stack([la[sel], lb[sel]], axis=1), axis=0, return_index=True)
                pairs[(a, node_types[j])] = (uniq[:, 0].copy(), uniq[:, 1].copy())
                if counts is not None:
                    weights[(a, node_types[j])] = counts[sel][first]
    feats = None
    if features is not None:
        feats = _place_features(graph, *features)
    return _assemble(node_types, item_ids, pairs, feats, weights if counts is not None else None)


def build_graph(
    marts_dir: Path, features_path: Path | None = None, weight: str = "n_co_users"
) -> HeteroGraph:
    """Read ``dim_items.parquet`` and ``fct_item_edges.parquet`` and build the graph.

    Args:
        marts_dir: The marts folder (``Config.marts_dir``).
        features_path: A Parquet of (item_id, vector), e.g. text features; None for ID-only.
        weight: The ``fct_item_edges`` column that weighs each edge (``hgnn.edge_weight``).

    Raises:
        StageError: If a mart is missing or breaks the contract.

    """
    from embedding_jobs.export import read_vectors

    paths = {name: marts_dir / f"{name}.parquet" for name in ("dim_items", "fct_item_edges")}
    for name, path in paths.items():
        if not path.exists():
            raise StageError(f"mart {name} not found at {path}: run `gfm transform` first")
    items = pd.read_parquet(paths["dim_items"], columns=["item_id", "content_type"])
    columns = pq.read_schema(paths["fct_item_edges"]).names
    if weight not in columns:
        raise StageError(
            f"fct_item_edges has no {weight!r} column (marts built by an older version): "
            "run `gfm transform` again"
        )
    edges = pd.read_parquet(paths["fct_item_edges"], columns=["src_item_id", "dst_item_id", weight])
    features = read_vectors(features_path, "item_id") if features_path is not None else None
    return graph_from_frames(items, edges, features, weight)


def relation_sizes(marts_dir: Path) -> dict[str, int]:
    """Edges per relation (``<a>__<b>``) in ``fct_item_edges.parquet``, the graph's edge types.

    Raises:
        StageError: If the mart is missing.

    """
    path = marts_dir / "fct_item_edges.parquet"
    if not path.exists():
        raise StageError(f"mart fct_item_edges not found at {path}: run `gfm transform` first")
    counts = pd.read_parquet(path, columns=["relation"])["relation"].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}
