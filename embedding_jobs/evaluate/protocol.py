"""The seed's evaluation protocol (arXiv 2403.05185): who is evaluated, on what, against what.

Train on the training window, evaluate on the evaluation window. For each content type T:

* the evaluated users are those who consumed a type-T item in the evaluation window that they
  had not consumed in training; those items are the user's relevant items;
* every type-T item in the catalogue (cold items included) is ranked, except the user's
  training-window consumptions;
* a user is *cold* if they have no training-window consumption at all, and *cold in type T*
  if they have no training-window consumption of a type-T item (they may have other types:
  the seed's cross-type cold start, e.g. podcast listeners served audiobooks);
* where a type has more evaluated users than ``max_users``, a seeded uniform sample of that many
  is evaluated (the same users for every model): scoring costs users x items, so without a cap
  the evaluation grows with the square of the data while training grows linearly;
* items are put in popularity tiers by their training-window consumers, within the type:
  ``head`` holds the most popular items that together take the first half of the type's
  training consumptions, ``torso`` the next 30 %, ``tail`` the rest, ``new`` the items nobody
  consumed in training.

For a fixed published split (LightGCN import) one more task ranks the whole catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from embedding_jobs.evaluate import metrics
from embedding_jobs.evaluate.metrics import Pairs
from gfm.config import Config, EvaluateConfig

TIERS: tuple[str, ...] = ("head", "torso", "tail", "new")
SEGMENTS: tuple[str, ...] = ("warm", "cold")
ALL_TYPES = "all"


@dataclass
class EvalTask:
    """One ranking task: users x candidate items with relevant and excluded pairs.

    Attributes:
        name: The content type, or ``"all"`` for the full-catalogue task.
        user_ids: ``(U,)`` evaluated users (row order).
        item_ids: ``(I,)`` candidate items (column order).
        relevant: Eval-window items the user had not consumed in training.
        excluded: The user's training-window consumptions among the candidates.
        is_cold_user: ``(U,)`` no training-window consumption at all.
        item_tier: ``(I,)`` index into ``TIERS``.
        n_eligible_users: Users who qualified before any ``max_users`` sample (0: not recorded).

    """

    name: str
    user_ids: np.ndarray
    item_ids: np.ndarray
    relevant: Pairs
    excluded: Pairs
    is_cold_user: np.ndarray
    item_tier: np.ndarray
    n_eligible_users: int = 0

    @property
    def is_cold_in_type(self) -> np.ndarray:
        """``(U,)`` no training-window consumption among this task's candidates (its type)."""
        return np.asarray(self.excluded.counts(len(self.user_ids)) == 0)


def user_cap(cfg: Config) -> int | None:
    """How many users per content type to evaluate: ``evaluate.max_users``, or all on a published split.

    A published split's figures (Yelp2018's Recall@20) are over all its test users, so it is never
    sampled. The report and the champion gate both ask here, so they score the same users.
    """
    from ingest.manifest import MANIFEST_NAME, read_manifest

    published = (cfg.raw_dir / MANIFEST_NAME).exists() and read_manifest(cfg.raw_dir).fixed_split
    return None if published else cfg.evaluate.max_users


def build_tasks(
    dim_items: pd.DataFrame,
    fct_interactions: pd.DataFrame,
    fct_eval_interactions: pd.DataFrame,
    *,
    full_catalogue: bool = False,
    max_users: int | None = None,
    seed: int = 0,
) -> list[EvalTask]:
    """One task per content type (sorted), plus the full-catalogue task if asked.

    Args:
        dim_items: The catalogue (item_id, content_type).
        fct_interactions: Training-window (user, item) rows with ``is_consumed``.
        fct_eval_interactions: Eval-window consumptions (user_id, item_id, content_type).
        full_catalogue: Also rank all items at once (fixed published splits).
        max_users: Evaluate at most this many users per task, a uniform sample drawn with ``seed``
            (None: all). The sample is the same for every model, so comparisons stay paired.
        seed: The sample's seed.

    """
    train = fct_interactions.loc[fct_interactions["is_consumed"].astype(bool), ["user_id", "item_id"]]
    warm_users = set(train["user_id"].to_numpy().tolist())
    pop = train.groupby("item_id").size()
    train_keys = pd.MultiIndex.from_frame(train)
    eval_keys = pd.MultiIndex.from_frame(fct_eval_interactions[["user_id", "item_id"]])
    fresh = fct_eval_interactions.loc[~eval_keys.isin(train_keys)]
    groups: list[tuple[str, pd.DataFrame, pd.DataFrame]] = [
        (str(t), dim_items.loc[dim_items["content_type"] == t], fresh.loc[fresh["content_type"] == t])
        for t in sorted(dim_items["content_type"].unique())
    ]
    if full_catalogue:
        groups.append((ALL_TYPES, dim_items, fresh))
    tasks: list[EvalTask] = []
    for name, items, relevant in groups:
        item_ids = np.sort(items["item_id"].to_numpy(dtype=np.int64))
        user_ids = np.unique(relevant["user_id"].to_numpy(dtype=np.int64))
        n_eligible = len(user_ids)
        if max_users is not None and n_eligible > max_users:
            rng = np.random.default_rng([seed, len(tasks)])
            user_ids = np.sort(rng.choice(user_ids, size=max_users, replace=False))
            relevant = relevant.loc[relevant["user_id"].isin(user_ids)]
        col = pd.Series(np.arange(len(item_ids)), index=item_ids)
        row = pd.Series(np.arange(len(user_ids)), index=user_ids)
        relevant = relevant.loc[relevant["item_id"].isin(col.index)]
        excl = train.loc[train["user_id"].isin(row.index) & train["item_id"].isin(col.index)]
        tiers = _tiers(
            pop.reindex(item_ids, fill_value=0).to_numpy(), items.set_index("item_id"), item_ids, name
        )
        tasks.append(
            EvalTask(
                name=name,
                user_ids=user_ids,
                item_ids=item_ids,
                relevant=Pairs.build(
                    row[relevant["user_id"]].to_numpy(), col[relevant["item_id"]].to_numpy()
                ),
                excluded=Pairs.build(row[excl["user_id"]].to_numpy(), col[excl["item_id"]].to_numpy()),
                is_cold_user=np.array([u not in warm_users for u in user_ids.tolist()], dtype=bool),
                item_tier=tiers,
                n_eligible_users=n_eligible,
            )
        )
    return tasks


def _tiers(pop: np.ndarray, items: pd.DataFrame, item_ids: np.ndarray, name: str) -> np.ndarray:
    """Popularity tier per item; for the all-items task, tiers are computed within each type."""
    tiers = np.full(len(item_ids), TIERS.index("new"), dtype=np.int64)
    types = items.loc[item_ids, "content_type"].to_numpy() if name == ALL_TYPES else None
    for t in [None] if types is None else np.unique(types):
        mask = np.ones(len(item_ids), bool) if t is None else types == t
        idx = np.flatnonzero(mask & (pop > 0))
        order = idx[np.argsort(-pop[idx], kind="stable")]
        share = np.cumsum(pop[order]) / max(pop[order].sum(), 1)
        before = share - pop[order] / max(pop[order].sum(), 1)  # share held by more popular items
        tiers[order] = np.where(before < 0.5, 0, np.where(before < 0.8, 1, 2))
    return tiers


Scores = tuple[torch.Tensor, torch.Tensor] | metrics.ChunkScorer
"""What a model gives a task: ``(user matrix, item matrix)`` scored by dot product, or a chunk scorer."""


def score_task(
    task: EvalTask, user_vecs: torch.Tensor, item_vecs: torch.Tensor, cfg: EvaluateConfig
) -> dict[str, Any]:
    """Rank a task by dot product of user and item matrices; see ``score``."""
    return score(task, (user_vecs, item_vecs), cfg)


def headline_keys(cfg: EvaluateConfig) -> tuple[str, ...]:
    """The figures of a scored cell that summaries copy: HR@k, MRR, Recall and NDCG, user count."""
    return (f"hr@{cfg.k}", "mrr", f"recall@{cfg.recall_k}", f"ndcg@{cfg.recall_k}", "n_users")


def score(task: EvalTask, scores: Scores, cfg: EvaluateConfig) -> dict[str, Any]:
    """Rank a task and summarise it overall, by user segment and by item tier.

    Args:
        task: The ranking task.
        scores: ``(user matrix, item matrix)`` or a chunk scorer over the task's rows and columns.
        cfg: k, recall k and coverage depth.

    Returns:
        ``{"hr@10", "mrr", "coverage", "n_users", "recall@20", "ndcg@20", "cold_in_type": {...},
        "tiers": {...}, "by_segment": {...}, "by_tier": {...}}`` (the key names follow ``cfg.k``
        and ``cfg.recall_k``); ``tiers`` and ``by_tier`` hold the same cells.

    """
    depth = max(cfg.coverage_k, cfg.recall_k, cfg.k)
    n_users, n_items = len(task.user_ids), len(task.item_ids)
    scorer = metrics.dot_scorer(*scores) if isinstance(scores, tuple) else scores
    ranking = metrics.rank_chunks(scorer, n_users, n_items, task.relevant, task.excluded, depth)
    hr = metrics.hit_rate(ranking.hits, cfg.k)
    rr = metrics.reciprocal_rank(ranking.hits[:, : cfg.coverage_k])
    rec = metrics.recall(ranking.hits, ranking.n_relevant, cfg.recall_k)
    nd = metrics.ndcg(ranking.hits, ranking.n_relevant, cfg.recall_k)

    def summary(mask: torch.Tensor) -> dict[str, Any]:
        n = int(mask.sum())
        return {
            f"hr@{cfg.k}": float(hr[mask].mean()) if n else None,
            "mrr": float(rr[mask].mean()) if n else None,
            "coverage": metrics.coverage(ranking.topk[mask][:, : cfg.coverage_k], n_items),
            f"recall@{cfg.recall_k}": float(rec[mask].mean()) if n else None,
            f"ndcg@{cfg.recall_k}": float(nd[mask].mean()) if n else None,
            "n_users": n,
        }

    out = summary(torch.ones(n_users, dtype=torch.bool))
    out["cold_in_type"] = summary(torch.from_numpy(task.is_cold_in_type))
    cold = torch.from_numpy(task.is_cold_user)
    out["by_segment"] = {"warm": summary(~cold), "cold": summary(cold)}
    out["tiers"] = _tier_hit_rates(task, ranking, cfg.k)
    out["by_tier"] = {tier: dict(cell) for tier, cell in out["tiers"].items()}
    return out


def _tier_hit_rates(task: EvalTask, ranking: metrics.Ranking, k: int) -> dict[str, dict[str, Any]]:
    """HR@k restricted to relevant items of one tier, over users who have such an item."""
    tier_of = torch.from_numpy(task.item_tier)
    rel_tier = task.item_tier[task.relevant.cols]
    top_tier = tier_of[ranking.topk[:, :k].clamp(min=0)]
    out = {}
    for t, name in enumerate(TIERS):
        users = np.unique(task.relevant.rows[rel_tier == t])
        hit = (ranking.hits[:, :k] & (top_tier == t)).any(dim=1)[torch.from_numpy(users)]
        out[name] = {
            f"hr@{k}": float(hit.float().mean()) if len(users) else None,
            "n_users": len(users),
            "n_items": int((task.item_tier == t).sum()),
        }
    return out
