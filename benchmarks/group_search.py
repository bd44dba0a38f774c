"""Item groups found from the logs alone, for ``benchmarks/latent_groups.py``.

Three ways to find the synthetic generator's taste groups from the binary user x item matrix of
training consumptions, and the Oracle's likelihood that compares them:

- ``fit_groups``: latent Dirichlet allocation (soft groups; hard ones by each item's likeliest);
- ``spectral_groups``: the planted-partition estimator (the normalised matrix's top singular
  vectors, clustered by k-means);
- ``refine_groups``: classification EM on the Oracle's own likelihood, from any start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ingest.synthetic.users import TASTE_CONCENTRATION


def consumption_matrix(facts: pd.DataFrame, item_ids: np.ndarray) -> tuple[sp.csr_matrix, pd.Index]:
    """Binary users x items matrix of training consumptions (columns in ``item_ids`` order)."""
    consumed = facts.loc[facts["is_consumed"].astype(bool), ["user_id", "item_id"]].drop_duplicates()
    consumed = consumed.loc[consumed["item_id"].isin(item_ids)]
    users = pd.Index(np.unique(consumed["user_id"].to_numpy()))
    rows = users.get_indexer(consumed["user_id"])
    cols = pd.Index(item_ids).get_indexer(consumed["item_id"])
    ones = np.ones(len(rows), dtype=np.float64)
    return sp.csr_matrix((ones, (rows, cols)), shape=(len(users), len(item_ids))), users


def fit_groups(
    matrix: sp.csr_matrix, n_groups: int, seed: int, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LDA on the consumption matrix: ``(theta (users, G), phi (G, items), hard group per item)``.

    ``theta`` and ``phi`` rows sum to 1; an item's hard group is its most probable one,
    ``argmax_k P(k | i)`` with ``P(k | i)`` proportional to group k's share of all consumptions
    times ``phi_k[i]``.
    """
    from sklearn.decomposition import LatentDirichletAllocation

    lda = LatentDirichletAllocation(
        n_components=n_groups,
        learning_method="batch",
        max_iter=max_iter,
        random_state=seed,
    )
    theta = lda.fit_transform(matrix)
    theta = theta / theta.sum(axis=1, keepdims=True)
    mass = lda.components_.sum(axis=1, keepdims=True)
    phi = lda.components_ / mass
    hard = np.argmax(phi * mass, axis=0)
    return theta, phi, hard


def spectral_groups(matrix: sp.csr_matrix, n_groups: int, seed: int) -> np.ndarray:
    """Hard item groups from the consumption matrix's spectrum: the planted-partition estimator.

    The user x item matrix is normalised by the root of both degrees (as in spectral
    co-clustering, Dhillon 2001), its top ``n_groups`` right singular vectors give every item a
    point, the points are scaled to unit length and k-means (10 starts) splits them into groups.
    Items nobody consumed have no point; they get a random group (they carry no evidence).
    """
    from scipy.sparse.linalg import svds
    from sklearn.cluster import KMeans

    users = np.asarray(matrix.sum(axis=1)).ravel()
    items = np.asarray(matrix.sum(axis=0)).ravel()
    scaled = sp.diags(1.0 / np.sqrt(users.clip(1.0))) @ matrix @ sp.diags(1.0 / np.sqrt(items.clip(1.0)))
    rng = np.random.default_rng(seed)
    _, _, vt = svds(scaled.tocsc(), k=n_groups, v0=rng.standard_normal(min(scaled.shape)))
    points = vt.T
    consumed = items > 0
    unit = points[consumed] / np.linalg.norm(points[consumed], axis=1, keepdims=True).clip(1e-12)
    labels = KMeans(n_clusters=n_groups, n_init=10, random_state=seed).fit_predict(unit)
    groups = rng.integers(0, n_groups, size=len(items))
    groups[consumed] = labels
    return groups


def _taste(matrix: sp.csr_matrix, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """``(users, G)`` the Oracle's taste: Dirichlet posterior mean of each user's group counts."""
    n_items = matrix.shape[1]
    onehot = sp.csr_matrix((np.ones(n_items), (np.arange(n_items), groups)), shape=(n_items, n_groups))
    per_user = np.asarray((matrix @ onehot).todense())
    out: np.ndarray = (per_user + TASTE_CONCENTRATION) / (
        per_user.sum(axis=1, keepdims=True) + TASTE_CONCENTRATION * n_groups
    )
    return out


def _group_pop(groups: np.ndarray, type_idx: np.ndarray, pop: np.ndarray, n_groups: int) -> np.ndarray:
    """``(G, types)`` summed ``pop`` of the items of each group and type."""
    out = np.zeros((n_groups, int(type_idx.max()) + 1))
    np.add.at(out, (groups, type_idx), pop)
    return out


def log_likelihood(matrix: sp.csr_matrix, type_idx: np.ndarray, groups: np.ndarray, n_groups: int) -> float:
    """The training consumptions' log-likelihood under the Oracle's model with these item groups.

    One consumption of item ``i`` (type ``t``, group ``g``) by user ``u``: ``taste_u[g] * pop_i /
    Pop[g, t]``, with ``pop`` the training consumers + 1 and ``Pop[g, t]`` its sum over the items
    of group ``g`` and type ``t``. Higher: the groups explain the logs better.
    """
    pop = np.asarray(matrix.sum(axis=0)).ravel() + 1.0
    taste = _taste(matrix, groups, n_groups)
    group_pop = _group_pop(groups, type_idx, pop, n_groups)
    rows, cols = matrix.nonzero()
    g = groups[cols]
    return float(np.sum(np.log(taste[rows, g]) + np.log(pop[cols]) - np.log(group_pop[g, type_idx[cols]])))


def refine_groups(
    matrix: sp.csr_matrix, type_idx: np.ndarray, start: np.ndarray, n_groups: int, rounds: int, seed: int
) -> np.ndarray:
    """Hard item groups by classification EM on the Oracle's likelihood, from ``start``.

    Each round reads every user's taste from their items' current groups and offers every item the
    group that makes its consumers' consumptions most likely, ``sum_u log taste_u[k] - n_i log
    Pop[k, t]`` (``Pop[k, t]`` counted as if ``i`` were in ``k``); a random 5% of the items take
    the offer (all at once, the groups collapse into two or three). Unconsumed items stay put.
    """
    rng = np.random.default_rng(seed)
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    pop = counts + 1.0
    groups = start.astype(np.int64).copy()
    for _ in range(rounds):
        fit = np.asarray(matrix.T @ np.log(_taste(matrix, groups, n_groups)))  # (items, G)
        others = groups[:, None] != np.arange(n_groups)[None, :]
        own = _group_pop(groups, type_idx, pop, n_groups)[:, type_idx].T + pop[:, None] * others
        best = np.argmax(fit - counts[:, None] * np.log(own), axis=1)
        take = (rng.random(len(groups)) < 0.05) & (counts > 0)
        groups[take] = best[take]
    return groups
