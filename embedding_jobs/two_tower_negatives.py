"""Catalogue negatives for the two-tower's same-day batches (mixed negative sampling).

With ``two_tower.batch_days`` > 0 a batch holds the examples of the same days, and its in-batch
negatives are the items *consumed* in those days. The logQ-corrected softmax then learns
P(item | user, day) over the items consumed that day only: an item is contrasted with others only
on the days someone consumed it. For an item consumed about once on each day it is consumed at all
(a sparse content type's typical item), that conditioning removes its popularity: a course
consumed on 30 days and one consumed on 7 are each chosen once on each of their days, so the
model cannot tell them apart, and an unconsumed item (a fresh one, or an old one nobody wants) is
never a negative. Measured on the communities data: same-day batches cost 2T-HGNN .115 HR@10 on
audio courses, the type whose items are consumed 1.4 times on a day they are consumed
(docs/results.md, round 6).

Mixed negative sampling (Yang et al., 2020) adds ``M`` items drawn uniformly from the catalogue as
it was when the batch's examples happened (every item published by then, with its Feast features
as of then; ``snapshot_buckets``: daily on logs with hundreds of examples a day) to the ``B``
in-batch ones. Every column's logit is corrected by the log of its expected number of copies among
the ``B + M`` columns, ``log(B * p + M / N)`` with ``p`` the item's share of the examples of the
buckets the batch was cut from, so the softmax estimates P(item | user, moment) over every item
that existed then: what the evaluation ranks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.batches import DAY_NS, bucket_index
from embedding_jobs.two_tower_inputs import Inputs, Rows
from gfm.config import TwoTowerConfig

__all__ = ["CatalogueNegatives", "published_ns", "snapshot_buckets", "snapshot_frame"]

#: catalogue rows held across all snapshots, at most (about 60 bytes each): 128 snapshots of a
#: catalogue of up to 39,000 items, fewer snapshots of a larger one (but never fewer than 8)
MAX_SNAPSHOT_ROWS = 5_000_000


def published_ns(dim_items: pd.DataFrame, item_ids: np.ndarray) -> np.ndarray:
    """``(I,)`` each item's publication time in ns, -1 where unknown (an imported log without dates)."""
    if "published_at" not in dim_items:
        return np.full(len(item_ids), -1, dtype=np.int64)
    stamps = pd.to_datetime(dim_items.set_index("item_id").loc[item_ids, "published_at"], utc=True)
    known = stamps.notna().to_numpy()
    out = np.full(len(item_ids), -1, dtype=np.int64)
    out[known] = stamps[known].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    return out


def snapshot_frame(
    item_ids: np.ndarray, published_ns: np.ndarray, starts_ns: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """The (item, moment) entity frame of every item published by each snapshot's start.

    Args:
        item_ids: ``(I,)`` catalogue item ids (catalogue order).
        published_ns: ``(I,)`` publication times in ns; a negative value: unknown (always there).
        starts_ns: ``(K,)`` snapshot times in ns (bucket starts).

    Returns:
        The frame (``item_id``, ``event_timestamp`` one second after the start, bucket by bucket)
        and ``(K + 1,)`` offsets: snapshot ``k``'s rows are ``offsets[k]:offsets[k + 1]``.

    """
    parts, offsets = [], [0]
    for start in starts_ns:
        there = np.flatnonzero(published_ns <= start)
        parts.append(pd.DataFrame({"item_id": item_ids[there], "_t": np.full(len(there), start + 10**9)}))
        offsets.append(offsets[-1] + len(there))
    frame = pd.concat(parts, ignore_index=True)
    frame["event_timestamp"] = pd.to_datetime(frame.pop("_t"), utc=True)
    return frame, np.asarray(offsets, dtype=np.int64)


def snapshot_buckets(row_bucket: torch.Tensor, batch_size: int, max_snapshots: int = 128) -> np.ndarray:
    """The time buckets the catalogue is snapshot at: enough to follow it, never too many.

    A snapshot is taken at the first bucket with examples, then at the next bucket once at least
    ``max(batch_size / 4, N / max_snapshots)`` examples have passed since the last one: every
    day of a log with hundreds of examples a day, every few weeks of one with a dozen
    (MovieLens), and never more than about ``max_snapshots`` catalogues in memory.
    """
    sizes = torch.bincount(row_bucket).numpy()
    every = max(batch_size / 4, len(row_bucket) / max_snapshots)
    chosen, since = [], every
    for b in np.flatnonzero(sizes):
        if since >= every:
            chosen.append(b)
            since = 0
        since += sizes[b]
    return np.asarray(chosen, dtype=np.int64)


class CatalogueNegatives:
    """Uniform catalogue negatives for a batch of time-sorted examples, with every column's logQ.

    Args:
        snapshots: Feature rows of ``snapshot_frame``'s frame (``Inputs.rows``).
        offsets: Its snapshot offsets.
        snap_buckets: ``(K,)`` the time bucket of every snapshot (``snapshot_buckets``).
        row_bucket: ``(N,)`` the time bucket of every example row (``bucket_index``).
        row_items: ``(N,)`` the catalogue row of every example's item.
        per_batch: ``M``, catalogue negatives drawn for every batch.

    """

    def __init__(
        self,
        snapshots: Rows,
        offsets: np.ndarray,
        snap_buckets: np.ndarray,
        row_bucket: torch.Tensor,
        row_items: torch.Tensor,
        per_batch: int,
    ) -> None:
        self.snapshots, self.offsets, self.per_batch = snapshots, torch.from_numpy(offsets), per_batch
        self.snap_buckets, self.row_bucket = torch.from_numpy(snap_buckets), row_bucket
        self.n_buckets = int(row_bucket.max()) + 1 if len(row_bucket) else 1
        # item-major keys with cumulative counts: an item's examples over a run of buckets in O(log)
        keys, counts = torch.unique(row_items * self.n_buckets + row_bucket, return_counts=True)
        self.keys, self.cum = keys, torch.cumsum(counts, 0)
        self.cum_size = torch.cumsum(torch.bincount(row_bucket, minlength=self.n_buckets), 0)

    @classmethod
    def build(
        cls,
        inputs: Inputs,
        rows: Rows,
        dim_items: pd.DataFrame,
        tc: TwoTowerConfig,
        fetch: Callable[[pd.DataFrame], Rows],
    ) -> CatalogueNegatives:
        """Snapshots of the catalogue at ``snapshot_buckets``, fetched by ``fetch(frame) -> Rows``."""
        bucket = bucket_index(rows.times, tc.batch_days)
        n_items = len(inputs.cat.item_ids)
        chosen = snapshot_buckets(
            bucket, tc.batch_size, max(8, min(128, MAX_SNAPSHOT_ROWS // max(n_items, 1)))
        )
        starts = int(rows.times.min()) + chosen * int(tc.batch_days * DAY_NS)
        published = published_ns(dim_items, inputs.cat.item_ids)
        frame, offsets = snapshot_frame(inputs.cat.item_ids, published, starts)
        return cls(fetch(frame), offsets, chosen, bucket, rows.items, tc.catalogue_negatives)

    def _upto(self, items: torch.Tensor, last: int) -> torch.Tensor:
        """Examples of each item in buckets ``0..last`` (none when ``last`` < 0)."""
        if last < 0:
            return torch.zeros(len(items), dtype=torch.long)
        pos = torch.searchsorted(self.keys, items * self.n_buckets + last, right=True) - 1
        before = torch.searchsorted(self.keys, items * self.n_buckets, right=False) - 1
        at = torch.where(pos >= 0, self.cum[pos.clamp(min=0)], 0)
        return at - torch.where(before >= 0, self.cum[before.clamp(min=0)], 0)

    def share(self, first: int, last: int, items: torch.Tensor) -> torch.Tensor:
        """Each item's share of the examples of buckets ``first..last``."""
        n = self.cum_size[last] - (self.cum_size[first - 1] if first > 0 else 0)
        return (self._upto(items, last) - self._upto(items, first - 1)).double() / max(int(n), 1)

    def draw(
        self, idx: torch.Tensor, items: torch.Tensor, generator: torch.Generator
    ) -> tuple[Rows, torch.Tensor, torch.Tensor]:
        """Catalogue negatives of the batch ``idx`` and the logQ of all ``B + M`` columns.

        A batch is cut from time-sorted examples, so it holds the examples of a run of buckets:
        an item's expected copies among its ``B`` columns are ``B`` times its share of that run,
        plus ``M / N`` from the uniform draw over the ``N`` items of the snapshot taken last at or
        before the batch's median bucket.

        Args:
            idx: The batch's example rows.
            items: ``(B,)`` their catalogue rows.
            generator: The random source.

        Returns:
            The snapshot rows, the ``(M,)`` positions drawn in them and the ``(B + M,)`` log of
            each column's expected number of copies among the batch's columns.

        """
        buckets = self.row_bucket[idx]
        first, last = int(buckets.min()), int(buckets.max())
        snap = max(int(torch.searchsorted(self.snap_buckets, buckets.median(), right=True)) - 1, 0)
        lo, hi = int(self.offsets[snap]), int(self.offsets[snap + 1])
        drawn = lo + torch.randint(max(hi - lo, 1), (self.per_batch if hi > lo else 0,), generator=generator)
        columns = torch.cat([items, self.snapshots.items[drawn]])
        copies = len(idx) * self.share(first, last, columns) + self.per_batch / max(hi - lo, 1)
        return self.snapshots, drawn, torch.log(copies).float()
