"""The Oracle: a ceiling that knows the generator's true item groups.

When the synthetic generator writes ``<raw_dir>/_truth/item_groups.parquet`` (``item_id``,
``group_id``: the latent taste group each item was drawn from), the evaluation adds a model that
no learner can see: the user's taste is the share of their training-window consumptions in each
group (every content type counts), and

    score(u, i) = taste_u[g(i)] * pop_i / sum(pop_j for j of group g(i) and i's content type)

with ``pop`` the item's training-window consumers + 1 as its quality estimate, and a minute
popularity term to order ties. Users without training consumptions get popularity. It is not a
perfect ranker (it does not know the generator's exact item weights or the future), but it is the
ranking the true groups support: ``(model - Popularity) / (Oracle - Popularity)`` says how much of
that reachable lift a model gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import EvalTask
from gfm.errors import RawInputError

__all__ = ["Oracle", "read_item_groups", "truth_path"]

_TIE_BREAK = 1e-6


def truth_path(raw_dir: Path) -> Path:
    """``<raw_dir>/_truth/item_groups.parquet``."""
    return raw_dir / "_truth" / "item_groups.parquet"


def read_item_groups(raw_dir: Path) -> pd.Series | None:
    """The generator's true group of every item (``item_id`` -> ``group_id``), or None if absent.

    Raises:
        RawInputError: If the file exists but lacks a column or repeats an item.

    """
    path = truth_path(raw_dir)
    if not path.is_file():
        return None
    frame = pd.read_parquet(path)
    missing = [c for c in ("item_id", "group_id") if c not in frame.columns]
    if missing:
        raise RawInputError(f"the truth file lacks column {missing[0]!r}", file=str(path), column=missing[0])
    if frame["item_id"].duplicated().any():
        first = int(frame.loc[frame["item_id"].duplicated(), "item_id"].iloc[0])
        raise RawInputError(f"item {first} has more than one group", file=str(path), column="item_id")
    return pd.Series(frame["group_id"].to_numpy(np.int64), index=frame["item_id"].to_numpy(np.int64))


@dataclass
class Oracle:
    """Per-user group tastes and per-item quality within (group, content type).

    Attributes:
        groups: Sorted distinct group ids (columns of ``taste``).
        taste: Per user id, the ``(G,)`` share of training consumptions per group.
        item_group: Per item id, the column of its group (-1: no group).
        quality: Per item id, ``pop / sum(pop of its group and type)``.

    """

    groups: np.ndarray
    taste: dict[int, np.ndarray]
    item_group: pd.Series
    quality: pd.Series

    @classmethod
    def fit(cls, groups: pd.Series, fct_interactions: pd.DataFrame, dim_items: pd.DataFrame) -> Oracle:
        """Tastes and qualities from the training window.

        Args:
            groups: ``item_id`` -> ``group_id`` (``read_item_groups``).
            fct_interactions: Training-window (user, item) rows with ``is_consumed``.
            dim_items: The catalogue (``item_id``, ``content_type``).

        """
        group_ids = np.unique(groups.to_numpy())
        items = dim_items[["item_id", "content_type"]].copy()
        items["group"] = (
            groups.reindex(items["item_id"].to_numpy())
            .map(pd.Series(np.arange(len(group_ids)), index=group_ids))
            .fillna(-1)
            .to_numpy(np.int64)
        )
        consumed = fct_interactions.loc[fct_interactions["is_consumed"].astype(bool), ["user_id", "item_id"]]
        consumed = consumed.drop_duplicates()
        pop = consumed.groupby("item_id").size().reindex(items["item_id"], fill_value=0).to_numpy() + 1.0
        items["pop"] = pop
        total = items.groupby(["group", "content_type"])["pop"].transform("sum")
        items["quality"] = np.where(items["group"] >= 0, items["pop"] / total, 0.0)
        item_group = pd.Series(items["group"].to_numpy(), index=items["item_id"].to_numpy())
        user_groups = consumed.assign(group=item_group.reindex(consumed["item_id"]).fillna(-1).to_numpy())
        user_groups = user_groups.loc[user_groups["group"] >= 0]
        taste: dict[int, np.ndarray] = {}
        for user, frame in user_groups.groupby("user_id"):
            counts = np.bincount(frame["group"].to_numpy(np.int64), minlength=len(group_ids))
            taste[int(user)] = counts / counts.sum()
        quality = pd.Series(items["quality"].to_numpy(), index=items["item_id"].to_numpy())
        return cls(group_ids, taste, item_group, quality)

    def scores(self, task: EvalTask, popularity: pd.Series) -> tuple[torch.Tensor, torch.Tensor]:
        """``(user matrix, item matrix)`` whose dot product is the Oracle's score."""
        n_groups = len(self.groups)
        users = np.zeros((len(task.user_ids), n_groups + 2), dtype=np.float32)
        for row, user in enumerate(task.user_ids.tolist()):
            taste = self.taste.get(int(user))
            if taste is None:
                users[row, n_groups] = 1.0  # popularity fallback
            else:
                users[row, :n_groups] = taste
                users[row, n_groups + 1] = _TIE_BREAK
        items = np.zeros((len(task.item_ids), n_groups), dtype=np.float32)
        group = self.item_group.reindex(task.item_ids).fillna(-1).to_numpy(np.int64)
        quality = self.quality.reindex(task.item_ids).fillna(0.0).to_numpy(np.float32)
        has = group >= 0
        items[np.flatnonzero(has), group[has]] = quality[has]
        pop = baselines.pop_column(task, popularity)
        return torch.from_numpy(users), torch.cat([torch.from_numpy(items), pop, pop], dim=1)
