"""Co-consumption sketches: each item's neighbourhood, as a fixed random projection, beside its text.

Why: text says what an item is about, not who consumes it with what. The HGNN averages its
neighbours' *text*, so two items with the same topic and different audiences look alike to it, and
on logs whose titles say little about taste its vectors fall below item-kNN over the very edges it
was trained on (``../shared/reference/STACK-NOTES.md``: random identity vectors averaged over one
hop beat the trained HGNN). A learnable per-item vector (``hgnn.item_id_dim``) has to be learned
from a few hundred steps and is absent for new items; this needs no learning at all.

Every item gets a fixed sparse random vector ``r_j`` in ``dim`` dimensions, derived from its
``item_id`` alone (``nnz`` signed coordinates picked by a hash), so the same item has the same
vector in every run and version and a new item has one too. An item's sketch is

    s_i = normalise( sum over its graph neighbours j of  w_ij / sqrt(d_i d_j) · r_j )

with ``w_ij`` the edge's co-user count and ``d`` the weighted degrees: a Johnson-Lindenstrauss
projection of its row of the cosine-normalised co-consumption matrix. Then ``s_i · s_k`` estimates
how much ``i`` and ``k`` share their co-consumers' neighbourhoods, and one layer of message passing
over sketches reaches the items themselves, which is what item-kNN reads, while the text half keeps
every item, edgeless ones included, embedded inductively. An item without edges has a zero sketch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp
import torch

from embedding_jobs.data.graph import HeteroGraph

__all__ = ["hashed_identity", "neighbourhood_sketch", "with_sketch"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of each uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hashed_identity(item_ids: np.ndarray, dim: int, nnz: int = 8, salt: int = 0) -> sp.csr_matrix:
    """The fixed random identity vectors ``r_j`` of some items, one sparse row per item.

    Each row has ``nnz`` entries ``±1/sqrt(nnz)`` at hashed coordinates (repeats add up), so rows
    are unit-norm in expectation and nearly orthogonal to each other.

    Args:
        item_ids: Global item ids (int64).
        dim: Sketch size.
        nnz: Non-zeros per row.
        salt: Changes every vector (a different random projection).

    """
    ids = np.asarray(item_ids, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        keys = ids[:, None] * np.uint64(nnz) + np.arange(nnz, dtype=np.uint64)[None, :]
        h = _mix(keys ^ _mix(np.full_like(keys, np.uint64(salt))))
    cols = (h % np.uint64(dim)).astype(np.int64).ravel()
    signs = np.where((h >> np.uint64(63)) == 1, 1.0, -1.0).ravel() / np.sqrt(nnz)
    rows = np.repeat(np.arange(len(ids)), nnz)
    return sp.csr_matrix((signs.astype(np.float32), (rows, cols)), shape=(len(ids), dim))


def neighbourhood_sketch(
    graph: HeteroGraph, dim: int, nnz: int = 8, salt: int = 0
) -> dict[str, torch.Tensor]:
    """Per content type, the unit-norm sketch of every item's co-consumption row (zeros if none).

    Args:
        graph: The graph whose edges (and co-user counts, when present) are sketched; pass the
            training graph when some edges are held out, so the sketch does not see them.
        dim: Sketch size.
        nnz: Non-zeros per identity vector.
        salt: Seed of the projection.

    """
    offsets, total = {}, 0
    for t in graph.node_types:
        offsets[t] = total
        total += len(graph.item_ids[t])
    rows, cols, vals = [], [], []
    for key, (a, b) in graph.pairs.items():
        w = graph.weights[key] if graph.weights is not None else np.ones(len(a))
        ga, gb = a + offsets[key[0]], b + offsets[key[1]]
        rows += [ga, gb]
        cols += [gb, ga]
        vals += [w, w]
    if rows:
        adj = sp.csr_matrix(
            (np.concatenate(vals).astype(np.float64), (np.concatenate(rows), np.concatenate(cols))),
            shape=(total, total),
        )
    else:
        adj = sp.csr_matrix((total, total))
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inv = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    cosine = sp.diags(inv) @ adj @ sp.diags(inv)
    ids = np.concatenate([graph.item_ids[t] for t in graph.node_types]) if total else np.zeros(0, np.int64)
    sketch = np.asarray((cosine @ hashed_identity(ids, dim, nnz, salt)).todense(), dtype=np.float32)
    norms = np.linalg.norm(sketch, axis=1, keepdims=True)
    sketch = np.divide(sketch, norms, out=np.zeros_like(sketch), where=norms > 0)
    return {
        t: torch.from_numpy(sketch[offsets[t] : offsets[t] + len(graph.item_ids[t])])
        for t in graph.node_types
    }


def with_sketch(graph: HeteroGraph, dim: int) -> HeteroGraph:
    """A copy of ``graph`` whose node features are ``[features, sketch of its own edges]``.

    Without features (ID-only graphs) the graph is returned unchanged; so it is with ``dim`` 0.
    The copy is kept on ``graph``, so training and then embedding the same graph sketch it once.
    """
    if dim <= 0 or graph.features is None:
        return graph
    if dim not in graph._sketched:
        sketch = neighbourhood_sketch(graph, dim)
        features = {t: torch.cat([graph.features[t], sketch[t]], dim=1) for t in graph.node_types}
        graph._sketched[dim] = replace(graph, features=features, _lookup=None)
    return graph._sketched[dim]
