"""User histories as of any moment: what each user met strictly before an example's time.

A user's history is the bag of items consumed (and of items followed or previewed) before a
moment, summarised per content type as a mean and a count. ``Histories`` keeps every user's items
as time-ordered running sums, so the history as of any example's time is a binary search and a
row lookup: a training example sees only what its user met strictly before it, as Feast serves
features as of a time, and the export sees the whole training window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.interactions import Catalogue, _positions, to_nanos

__all__ = ["NEVER", "Histories", "Timeline", "build_histories", "consumption_times", "signal_times"]


def consumption_times(facts: pd.DataFrame) -> pd.Series:
    """When the user first consumed each row's item (UTC): the time of its training example.

    ``first_consumed_at`` when the mart has it, else ``first_event_at``, the first event of any
    kind, which is earlier when a follow or preview came before the first stream.
    """
    column = "first_consumed_at" if "first_consumed_at" in facts.columns else "first_event_at"
    return pd.to_datetime(facts[column], utc=True)


def signal_times(facts: pd.DataFrame) -> pd.Series:
    """When the user first followed, previewed or meant to pay for each row's item (UTC).

    ``first_signal_at`` when the mart has it, else ``first_event_at``.
    """
    column = "first_signal_at" if "first_signal_at" in facts.columns else "first_event_at"
    return pd.to_datetime(facts[column], utc=True)


NEVER = np.iinfo(np.int64).max  # a time after every event: the whole training window


@dataclass
class Timeline:
    """One kind of history (consumed or weak-signal items) as time-ordered runs of events.

    There is one run per (user, content type), ``run = user row * T + type``; within a run the
    events are in time order and ``cum`` holds their running sum, so the history of any user as
    of any time is one binary search and one row lookup.

    Attributes:
        start: ``(U * T + 1,)`` offset of each run into the events.
        keys: ``(E,)`` ascending ``run * (M + 1) + rank``, ``rank`` the position of the event's
            time among the ``M`` distinct event times.
        times: ``(M,)`` the distinct event times (ns since the epoch, UTC), ascending.
        cum: ``(E + 1, D)`` running sum of the items' history vectors within each run, after
            a zero row: ``cum[e + 1]`` is the sum up to and including event ``e``.
        items: ``(E,)`` each event's catalogue row.

    """

    start: np.ndarray
    keys: np.ndarray
    times: np.ndarray
    cum: torch.Tensor
    items: np.ndarray

    def end(self, runs: np.ndarray, at: np.ndarray) -> np.ndarray:
        """``(N,)`` one past each run's last event strictly before ``at`` (ns), from ``start[runs]``."""
        rank = np.searchsorted(self.times, at, side="left")  # distinct event times before `at`
        return np.searchsorted(self.keys, runs * (len(self.times) + 1) + rank, side="left")

    def as_of(self, runs: np.ndarray, at: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, D)`` sum and ``(N,)`` count of each run's events strictly before ``at`` (ns)."""
        end = self.end(runs, at)
        count = end - self.start[runs]
        return self.cum[torch.from_numpy(np.where(count > 0, end, 0))], torch.from_numpy(count).float()

    def recent(self, runs: np.ndarray, at: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
        """The catalogue rows of each run's last ``cap`` events strictly before ``at`` (ns).

        Returns:
            ``items`` ``(L,)``, the runs' items one run after another, each run in time order,
            and ``(N,)`` how many of them belong to each run.

        """
        end = self.end(runs, at)
        first = np.maximum(self.start[runs], end - cap)
        counts = end - first
        # position of every kept event: its run's first event plus its place within the run
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.items[np.repeat(first, counts) + within], counts


def _timeline(
    users: np.ndarray, events: pd.DataFrame, at: np.ndarray, cat: Catalogue, n_types: int
) -> Timeline:
    """Sort ``events`` (``user_id``, ``item_id``, at ``at`` ns) into runs and sum within each run."""
    user_rows = _positions(users, events["user_id"], "users not in dim_users")
    items = cat.rows(events["item_id"])
    runs = user_rows * n_types + cat.type_idx.numpy()[items]
    order = np.lexsort((at, runs))
    runs, items, at = runs[order], items[order], at[order]
    times, rank = np.unique(at, return_inverse=True)
    start = np.concatenate([[0], np.cumsum(np.bincount(runs, minlength=len(users) * n_types))])
    keys = runs * (len(times) + 1) + rank.astype(np.int64)
    return Timeline(start, keys, times, _run_cumsum(cat.history, items, start[runs]), items)


def _run_cumsum(vectors: torch.Tensor, items: np.ndarray, first: np.ndarray) -> torch.Tensor:
    """Running sums of ``vectors[items]`` that restart at each event's run start ``first``.

    Returns ``(E + 1, D)``: a zero row, then the sum of each event's run up to the event. Step
    ``p`` adds the ``p``-th event of every run at once to the sum before it, so there are as many
    steps as the longest run has events, each over every run that long: O(E x D) work, exact
    running sums (no long sum is differenced), no memory beyond the output and one step.
    """
    out = torch.zeros(len(items) + 1, vectors.shape[1])
    pos = np.arange(len(items)) - first  # place of each event in its run
    order = torch.from_numpy(np.argsort(pos, kind="stable"))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(pos))]) if len(pos) else np.zeros(1, np.int64)
    rows = torch.from_numpy(items)
    for p in range(len(bounds) - 1):
        e = order[bounds[p] : bounds[p + 1]]  # the p-th event of every run that long
        out[e + 1] = out[e] + vectors[rows[e]]  # at p = 0, out[e] is read before any write: zero
    return out


@dataclass
class Histories:
    """Every user's consumed and weak-signal items over time, per content type.

    Attributes:
        user_ids: ``(U,)`` sorted user ids.
        n_types: Number of content types.
        consumed: Consumed items, each at its first consumption.
        weak: Followed, previewed or intended-to-pay items (consumed ones included: a follow or
            preview usually precedes the stream), each at its first such signal.

    """

    user_ids: np.ndarray
    n_types: int
    consumed: Timeline
    weak: Timeline

    def rows(self, user_ids: np.ndarray | pd.Series) -> np.ndarray:
        """Row positions of user ids (all must be known)."""
        return _positions(self.user_ids, user_ids, "users not in dim_users")

    def as_of(
        self, users: torch.Tensor, at: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Histories of user rows ``users`` from the items met strictly before ``at`` (ns, UTC).

        Returns:
            ``hist_sum`` ``(N, T, D)`` and ``hist_count`` ``(N, T)`` of consumed items, then
            ``weak_sum`` and ``weak_count`` of weak-signal items. ``at = NEVER`` gives the whole
            training window.

        """
        n, t = len(users), self.n_types
        runs = (users.numpy().astype(np.int64)[:, None] * t + np.arange(t)).ravel()
        stamps = np.repeat(at.numpy().astype(np.int64), t)
        hist_sum, hist_count = self.consumed.as_of(runs, stamps)
        weak_sum, weak_count = self.weak.as_of(runs, stamps)
        return hist_sum.view(n, t, -1), hist_count.view(n, t), weak_sum.view(n, t, -1), weak_count.view(n, t)

    def consumed_items(
        self, users: torch.Tensor, at: torch.Tensor, cap: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The items user rows ``users`` consumed before ``at`` (ns), the latest ``cap`` per type.

        Returns:
            ``items`` ``(L,)`` catalogue rows, one user after another, and ``(N,)`` how many of
            them belong to each user.

        """
        n, t = len(users), self.n_types
        runs = (users.numpy().astype(np.int64)[:, None] * t + np.arange(t)).ravel()
        items, counts = self.consumed.recent(runs, np.repeat(at.numpy().astype(np.int64), t), cap)
        return items, counts.reshape(n, t).sum(axis=1)


def build_histories(user_ids: np.ndarray, facts: pd.DataFrame, cat: Catalogue, n_types: int) -> Histories:
    """Index each user's training-window items by time, per content type (``fct_interactions``)."""
    users = np.sort(np.asarray(user_ids, dtype=np.int64))
    consumed = facts["is_consumed"].astype(bool).to_numpy()
    weak_cols = [c for c in ("n_follows", "n_previews", "n_intent_to_pay") if c in facts.columns]
    weak = facts[weak_cols].fillna(0).sum(axis=1).to_numpy() > 0
    return Histories(
        users,
        n_types,
        _timeline(users, facts.loc[consumed], to_nanos(consumption_times(facts.loc[consumed])), cat, n_types),
        _timeline(users, facts.loc[weak], to_nanos(signal_times(facts.loc[weak])), cat, n_types),
    )
