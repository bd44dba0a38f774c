"""Vectorised ranking metrics: top-k on user x item score matrices, computed in chunks.

A model is scored either as a dot product between user and item matrices (popularity is a
one-column "vector") or by a *chunk scorer*, a callable that returns the dense scores of a slice
of users against every candidate (item-kNN, whose score is a sparse product, not a low-rank dot
product). Either way only ``chunk x items`` scores exist at once. Relevance and exclusion are
given as (row, column) pairs sorted by row; each chunk of users builds its dense masks on the fly.

Definitions (per evaluated user, averaged over users):
    HR@k       1 if any relevant item is in the top k.
    MRR        1 / rank of the first relevant item within the top ``depth`` (0 if none).
    Recall@k   relevant items in the top k / number of relevant items (LightGCN).
    NDCG@k     binary-relevance DCG of the top k / IDCG over min(n relevant, k) (LightGCN).
    coverage   distinct items in anybody's top ``depth`` / catalogue size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

ChunkScorer = Callable[[int, int], torch.Tensor]
"""``scorer(start, stop)`` -> ``(stop - start, I)`` float scores of user rows ``[start, stop)``."""


@dataclass
class Pairs:
    """(row, column) index pairs sorted by row: relevant or excluded items of each user."""

    rows: np.ndarray
    cols: np.ndarray

    @classmethod
    def build(cls, rows: np.ndarray, cols: np.ndarray) -> Pairs:
        """Sort the pairs by row (stable) so chunks are contiguous slices."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        return cls(rows[order], cols[order])

    def slice(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Pairs whose row lies in ``[start, stop)``, rows made relative to ``start``."""
        lo, hi = np.searchsorted(self.rows, [start, stop], side="left")
        return self.rows[lo:hi] - start, self.cols[lo:hi]

    def counts(self, n_rows: int) -> np.ndarray:
        """Count the pairs of each row."""
        return np.bincount(self.rows, minlength=n_rows)


@dataclass
class Ranking:
    """Top-``depth`` items per user and where the relevant ones landed.

    Attributes:
        topk: ``(U, depth)`` item column indices, best first (-1 where only excluded items remain).
        hits: ``(U, depth)`` whether each of those is relevant.
        n_relevant: ``(U,)`` number of relevant items per user.

    """

    topk: torch.Tensor
    hits: torch.Tensor
    n_relevant: torch.Tensor


def dot_scorer(user_vecs: torch.Tensor, item_vecs: torch.Tensor) -> ChunkScorer:
    """A chunk scorer that takes the dot product of user and item matrices."""
    items_t = item_vecs.float().T.contiguous()
    return lambda start, stop: user_vecs[start:stop].float() @ items_t


def rank(
    user_vecs: torch.Tensor,
    item_vecs: torch.Tensor,
    relevant: Pairs,
    excluded: Pairs,
    depth: int,
    chunk: int = 1024,
) -> Ranking:
    """Rank every item for every user by dot product, excluding some pairs.

    Args:
        user_vecs: ``(U, d)`` float.
        item_vecs: ``(I, d)`` float.
        relevant: Relevant (user row, item column) pairs.
        excluded: Pairs removed from the ranking (e.g. the user's training items).
        depth: How many items to keep per user (capped at I).
        chunk: Users scored at once (bounds memory at chunk x I).

    """
    scorer = dot_scorer(user_vecs, item_vecs)
    return rank_chunks(scorer, user_vecs.shape[0], item_vecs.shape[0], relevant, excluded, depth, chunk)


def rank_chunks(
    scorer: ChunkScorer,
    n_users: int,
    n_items: int,
    relevant: Pairs,
    excluded: Pairs,
    depth: int,
    chunk: int = 1024,
) -> Ranking:
    """Rank every item for every user with scores produced one chunk of users at a time.

    Args:
        scorer: ``scorer(start, stop)`` returns the ``(stop - start, n_items)`` scores.
        n_users: Number of user rows.
        n_items: Number of candidate item columns.
        relevant: Relevant (user row, item column) pairs.
        excluded: Pairs removed from the ranking (e.g. the user's training items).
        depth: How many items to keep per user (capped at ``n_items``).
        chunk: Users scored at once (bounds memory at chunk x items).

    Raises:
        ValueError: If the scorer returns a block of the wrong shape.

    """
    depth = min(depth, n_items)
    tops, hits = [], []
    for start in range(0, n_users, chunk):
        stop = min(start + chunk, n_users)
        scores = scorer(start, stop).float().cpu().clone()
        if tuple(scores.shape) != (stop - start, n_items):
            raise ValueError(
                f"scorer returned a {tuple(scores.shape)} block for users [{start}, {stop}) "
                f"and {n_items} items"
            )
        ex_r, ex_c = excluded.slice(start, stop)
        scores[torch.from_numpy(ex_r), torch.from_numpy(ex_c)] = float("-inf")
        top = torch.topk(scores, depth, dim=1, sorted=True)
        # an excluded item can only surface when a user has fewer candidates than depth
        order = torch.where(torch.isinf(top.values), torch.full_like(top.indices, -1), top.indices)
        rel = torch.zeros(stop - start, n_items, dtype=torch.bool)
        rel_r, rel_c = relevant.slice(start, stop)
        rel[torch.from_numpy(rel_r), torch.from_numpy(rel_c)] = True
        tops.append(order)
        hits.append(torch.gather(rel, 1, order.clamp(min=0)) & (order >= 0))
    n_rel = torch.from_numpy(relevant.counts(n_users))
    if not tops:
        empty = torch.empty(0, depth, dtype=torch.long)
        return Ranking(empty, empty.bool(), n_rel)
    return Ranking(torch.cat(tops), torch.cat(hits), n_rel)


def hit_rate(hits: torch.Tensor, k: int) -> torch.Tensor:
    """Per-user HR@k (float 0/1)."""
    return hits[:, :k].any(dim=1).float()


def reciprocal_rank(hits: torch.Tensor) -> torch.Tensor:
    """Per-user reciprocal rank of the first hit within the ranking depth (0 if none)."""
    depth = hits.shape[1]
    positions = torch.arange(1, depth + 1, dtype=torch.float32).expand_as(hits)
    first = torch.where(hits, positions, torch.full_like(positions, float("inf"))).min(dim=1).values
    return torch.where(torch.isinf(first), torch.zeros_like(first), 1.0 / first)


def recall(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Per-user Recall@k: hits in the top k over the number of relevant items."""
    return hits[:, :k].sum(dim=1).float() / n_relevant.clamp(min=1).float()


def ndcg(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Per-user NDCG@k with binary relevance; IDCG over min(n relevant, k) (LightGCN)."""
    k = min(k, hits.shape[1])
    discounts = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float32))
    dcg = (hits[:, :k].float() * discounts).sum(dim=1)
    ideal_len = n_relevant.clamp(max=k)
    idcg = torch.cumsum(discounts, dim=0)[(ideal_len - 1).clamp(min=0)]
    return torch.where(ideal_len > 0, dcg / idcg, torch.zeros_like(dcg))


def coverage(topk: torch.Tensor, n_items: int) -> float:
    """Share of the catalogue that appears in at least one user's ranking."""
    if n_items == 0 or topk.numel() == 0:
        return 0.0
    return float(torch.unique(topk[topk >= 0]).numel() / n_items)
