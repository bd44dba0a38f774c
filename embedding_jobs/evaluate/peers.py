"""Collaborative-filtering peers: item-kNN over training co-consumption, and LightGCN's scorer.

item-kNN is the filter a recommender engineer writes first. ``R`` is the binary user x item
matrix of training-window consumptions (``fct_interactions.is_consumed``, the same pairs every
model sees), ``S = D^-1/2 RᵀR D^-1/2`` with a zero diagonal is the cosine between the items'
consumer sets, and a user's score for item ``i`` is ``sum_j S[j, i]`` over the items ``j`` they
consumed in training. Scores are computed per chunk of users (``R_chunk @ S``), never as a dense
users x items matrix. A user without training consumptions gets popularity, as in every
baseline; a minute popularity term breaks ties between equal sums (e.g. all zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.lightgcn import LightGCNResult
from embedding_jobs.evaluate.metrics import ChunkScorer
from embedding_jobs.evaluate.protocol import EvalTask

__all__ = ["ItemKNN", "item_cosine", "lightgcn_scores"]

_TIE_BREAK = 1e-6  # popularity weight under the kNN sum: orders equal sums only


def _binary(user_idx: np.ndarray, item_idx: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """Binary ``(n_users, n_items)`` CSR matrix with a one at every (user, item) pair (duplicates once)."""
    user_idx = np.asarray(user_idx, dtype=np.int64)
    item_idx = np.asarray(item_idx, dtype=np.int64)
    if len(user_idx) != len(item_idx):
        raise ValueError(f"{len(user_idx)} user indices but {len(item_idx)} item indices")
    if len(user_idx) and (user_idx.min() < 0 or user_idx.max() >= n_users):
        raise ValueError(f"user index out of range [0, {n_users})")
    if len(item_idx) and (item_idx.min() < 0 or item_idx.max() >= n_items):
        raise ValueError(f"item index out of range [0, {n_items})")
    ones = np.ones(len(user_idx), dtype=np.float32)
    matrix = sp.csr_matrix((ones, (user_idx, item_idx)), shape=(n_users, n_items), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def item_cosine(user_idx: np.ndarray, item_idx: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """Cosine similarity between items' consumer sets: ``D^-1/2 RᵀR D^-1/2`` with a zero diagonal.

    Args:
        user_idx: Row index (``0 <= u < n_users``) of each consumption.
        item_idx: Column index (``0 <= i < n_items``) of each consumption; repeated pairs count once.
        n_users: Number of users.
        n_items: Number of items.

    Returns:
        ``(n_items, n_items)`` float32 CSR matrix; entry ``(j, i)`` is the number of users who
        consumed both, over the square root of the product of their consumer counts.

    Raises:
        ValueError: If an index is out of range or the arrays differ in length.

    """
    r = _binary(user_idx, item_idx, n_users, n_items)
    co = (r.T @ r).tocsr()
    degree = np.asarray(r.sum(axis=0), dtype=np.float64).ravel()
    inv = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1.0)), 0.0)
    scale = sp.diags(inv.astype(np.float32))
    sim = (scale @ co @ scale).tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return sim.astype(np.float32)


@dataclass
class ItemKNN:
    """Training consumptions and item-item cosines over the whole catalogue.

    Attributes:
        user_ids: ``(U,)`` users with a training consumption (rows of ``train``).
        item_ids: ``(I,)`` catalogue items (rows and columns of ``sim``).
        train: ``(U, I)`` binary CSR of training consumptions.
        sim: ``(I, I)`` cosine CSR (``item_cosine``).

    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    train: sp.csr_matrix
    sim: sp.csr_matrix

    @classmethod
    def fit(cls, fct_interactions: pd.DataFrame, item_ids: np.ndarray) -> ItemKNN:
        """Build ``R`` and ``S`` from the training window's consumptions.

        Args:
            fct_interactions: Training-window (user, item) rows with ``is_consumed``.
            item_ids: The catalogue; consumptions of items outside it are ignored.

        """
        consumed = fct_interactions.loc[fct_interactions["is_consumed"].astype(bool)]
        item_ids = np.unique(np.asarray(item_ids, dtype=np.int64))
        consumed = consumed.loc[consumed["item_id"].isin(item_ids)]
        user_ids = np.unique(consumed["user_id"].to_numpy(dtype=np.int64))
        u = np.searchsorted(user_ids, consumed["user_id"].to_numpy(dtype=np.int64))
        i = np.searchsorted(item_ids, consumed["item_id"].to_numpy(dtype=np.int64))
        n_users, n_items = len(user_ids), len(item_ids)
        return cls(user_ids, item_ids, _binary(u, i, n_users, n_items), item_cosine(u, i, n_users, n_items))

    def scorer(self, task: EvalTask, popularity: pd.Series) -> ChunkScorer:
        """Scores of the task's users against its candidates, one chunk of users at a time.

        Args:
            task: The ranking task (its rows and columns).
            popularity: Training-window consumers per item (fallback and tie-break).

        """
        rows = pd.Series(np.arange(len(self.user_ids)), index=self.user_ids).reindex(task.user_ids)
        has_row = rows.notna().to_numpy()
        row_idx = rows.fillna(0).to_numpy(dtype=np.int64)
        cols = pd.Series(np.arange(len(self.item_ids)), index=self.item_ids).reindex(task.item_ids)
        known = cols.notna().to_numpy()
        # candidate columns of S; a candidate outside the catalogue gets an all-zero column
        picked = self.sim[:, cols.fillna(0).to_numpy(dtype=np.int64)]
        sim = (picked @ sp.diags(known.astype(np.float32))).tocsr()
        pop = baselines.pop_column(task, popularity).squeeze(1)

        def score(start: int, stop: int) -> torch.Tensor:
            block = np.zeros((stop - start, len(task.item_ids)), dtype=np.float32)
            mine = has_row[start:stop]
            if mine.any():
                block[mine] = (self.train[row_idx[start:stop][mine]] @ sim).toarray()
            out = torch.from_numpy(block) + _TIE_BREAK * pop
            # no training consumption: popularity alone
            out[torch.from_numpy(~mine)] = pop
            return out

        return score


def lightgcn_scores(
    task: EvalTask, result: LightGCNResult, popularity: pd.Series
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dot product of LightGCN's final embeddings; users without a node get popularity."""
    return baselines.two_tower(
        task, (result.user_ids, result.user_vecs), (result.item_ids, result.item_vecs), popularity
    )
