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
it was on the batch's day (every item published by then, with its Feast features as of that
day's start) to the ``B`` in-batch ones. Every column's logit is corrected by the log of its
expected number of copies among the ``B + M`` columns, ``log(B * p_day + M / N_day)``, so the
softmax estimates P(item | user, day) over every item that existed that day: what the evaluation
ranks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.batches import DAY_NS, bucket_index
from embedding_jobs.two_tower_inputs import Inputs, Rows

__all__ = ["CatalogueNegatives", "published_ns", "snapshot_frame"]


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
    """The (item, moment) entity frame of every item published by each bucket's start.

    Args:
        item_ids: ``(I,)`` catalogue item ids (catalogue order).
        published_ns: ``(I,)`` publication times in ns; a negative value: unknown (always there).
        starts_ns: ``(K,)`` bucket start times in ns.

    Returns:
        The frame (``item_id``, ``event_timestamp`` one second after the start, bucket by bucket)
        and ``(K + 1,)`` offsets: bucket ``k``'s rows are ``offsets[k]:offsets[k + 1]``.

    """
    parts, offsets = [], [0]
    for start in starts_ns:
        there = np.flatnonzero(published_ns <= start)
        parts.append(pd.DataFrame({"item_id": item_ids[there], "_t": np.full(len(there), start + 10**9)}))
        offsets.append(offsets[-1] + len(there))
    frame = pd.concat(parts, ignore_index=True)
    frame["event_timestamp"] = pd.to_datetime(frame.pop("_t"), utc=True)
    return frame, np.asarray(offsets, dtype=np.int64)


class CatalogueNegatives:
    """Uniform catalogue negatives per time bucket, with the mixed logQ of every column.

    Args:
        snapshots: Feature rows of ``snapshot_frame``'s frame (``Inputs.rows``).
        offsets: Its bucket offsets.
        row_bucket: ``(N,)`` the time bucket of every example row (``bucket_index``).
        row_items: ``(N,)`` the catalogue row of every example's item.
        n_items: Catalogue size.
        per_batch: ``M``, catalogue negatives drawn for every batch.

    """

    def __init__(
        self,
        snapshots: Rows,
        offsets: np.ndarray,
        row_bucket: torch.Tensor,
        row_items: torch.Tensor,
        n_items: int,
        per_batch: int,
    ) -> None:
        self.snapshots, self.offsets, self.per_batch = snapshots, torch.from_numpy(offsets), per_batch
        self.row_bucket, self.n_items = row_bucket, n_items
        key = row_bucket * n_items + row_items
        self.keys, self.counts = torch.unique(key, return_counts=True)
        self.bucket_size = torch.bincount(row_bucket, minlength=len(offsets) - 1)

    @classmethod
    def build(
        cls,
        inputs: Inputs,
        rows: Rows,
        dim_items: pd.DataFrame,
        bucket_days: float,
        per_batch: int,
        fetch: Callable[[pd.DataFrame], Rows],
    ) -> CatalogueNegatives:
        """Snapshots of the catalogue at every bucket's start, fetched by ``fetch(frame) -> Rows``."""
        bucket = bucket_index(rows.times, bucket_days)
        width = int(bucket_days * DAY_NS)
        starts = int(rows.times.min()) + np.arange(int(bucket.max()) + 1, dtype=np.int64) * width
        frame, offsets = snapshot_frame(
            inputs.cat.item_ids, published_ns(dim_items, inputs.cat.item_ids), starts
        )
        return cls(fetch(frame), offsets, bucket, rows.items, len(inputs.cat.item_ids), per_batch)

    def share(self, bucket: int, items: torch.Tensor) -> torch.Tensor:
        """Each item's share of the examples of ``bucket`` (0 for an item not consumed in it)."""
        key = bucket * self.n_items + items
        pos = torch.searchsorted(self.keys, key).clamp(max=len(self.keys) - 1)
        hit = self.keys[pos] == key
        return torch.where(hit, self.counts[pos].double(), 0.0) / max(int(self.bucket_size[bucket]), 1)

    def draw(
        self, idx: torch.Tensor, log_q: torch.Tensor, generator: torch.Generator
    ) -> tuple[Rows, torch.Tensor, torch.Tensor]:
        """Catalogue negatives of the batch ``idx`` and the mixed logQ of all ``B + M`` columns.

        The negatives come from the snapshot of the batch's median bucket (a batch cut from
        time-sorted examples spans a day or two).

        Args:
            idx: The batch's example rows.
            log_q: ``(B,)`` each in-batch column's log share of its bucket (``example_log_q``).
            generator: The random source.

        Returns:
            The snapshot rows, the ``(M,)`` positions drawn in them and the ``(B + M,)`` log of
            each column's expected number of copies among the batch's columns.

        """
        bucket = int(self.row_bucket[idx].median())
        lo, hi = int(self.offsets[bucket]), int(self.offsets[bucket + 1])
        drawn = lo + torch.randint(max(hi - lo, 1), (self.per_batch if hi > lo else 0,), generator=generator)
        uniform = self.per_batch / max(hi - lo, 1)
        in_batch = len(idx) * log_q.double().exp() + uniform
        catalogue = len(idx) * self.share(bucket, self.snapshots.items[drawn]) + uniform
        return self.snapshots, drawn, torch.log(torch.cat([in_batch, catalogue])).float()
