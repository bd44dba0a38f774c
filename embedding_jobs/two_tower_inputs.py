"""What the two-tower trains on: per-row tensors of retrieved features, and tower batches of them.

``Rows`` holds one entity frame after Feast retrieval as compact tensors (chunks of one frame
concatenate). ``Inputs`` turns rows into tower batches: an example's history holds only what its
user met strictly before the example's time; ``history_dropout`` hides whole histories so cold
users are learned too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.graph_entry import isolated_rows
from embedding_jobs.data.histories import NEVER, Histories
from embedding_jobs.data.horizon import DAY_NS
from embedding_jobs.data.interactions import Catalogue, Encoders, to_nanos
from embedding_jobs.models.two_tower import ItemBatch, UserBatch

__all__ = ["HISTORY_ID_CAP", "Inputs", "Rows"]

# ``two_tower.history_ids`` reads at most this many of a user's latest items per content type: it
# bounds a batch's lookups (a few users have consumed thousands of items) and keeps the mean about
# what the user consumes now.
HISTORY_ID_CAP = 200


@dataclass
class Rows:
    """Per-row tensors of an entity frame after Feast retrieval."""

    users: torch.Tensor  # history rows
    items: torch.Tensor  # catalogue rows
    user_cat: torch.Tensor
    user_raw: torch.Tensor
    item_cat: torch.Tensor
    item_raw: torch.Tensor
    times: torch.Tensor  # the rows' event_timestamp, ns since the epoch (UTC)
    # True where the row's item could have no co-consumption edge yet at the row's time: its HGNN
    # input is then the isolated vector (graph features as of the row; empty: never)
    item_isolated: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.bool))

    @classmethod
    def concat(cls, parts: list[Rows]) -> Rows:
        """The rows of several parts (chunks of one entity frame), in order."""
        if len(parts) == 1:
            return parts[0]
        return cls(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(cls)})


class Inputs:
    """Assembles tower batches from the catalogue, the histories and per-row features."""

    def __init__(
        self,
        enc: Encoders,
        cat: Catalogue,
        hist: Histories,
        use_hgnn: bool,
        history_as_of: bool = True,
        history_ids: bool = False,
        graph_export_days: float = 0.0,
    ) -> None:
        self.enc, self.cat, self.hist, self.use_hgnn = enc, cat, hist, use_hgnn
        self.history_as_of = history_as_of
        self.history_ids = history_ids
        self.graph_export_ns = round(graph_export_days * DAY_NS)
        self.stream_cols = torch.tensor(
            [c.startswith(("n_streams", "n_items")) for c in enc.user_dense], dtype=torch.bool
        )

    def replaced(
        self,
        hist: Histories | None = None,
        history_ids: bool | None = None,
        cat: Catalogue | None = None,
        history_as_of: bool | None = None,
    ) -> Inputs:
        """The same inputs with other histories or catalogue, or other history settings.

        ``hist`` and ``cat``: a validation slice's (``Validation.hist``, ``Validation.cat``);
        ``history_ids`` and ``history_as_of``: a candidate's (``two_tower_fit.select_and_fit``).
        None keeps the field as it is.
        """
        other = copy.copy(self)
        other.hist = self.hist if hist is None else hist
        other.cat = self.cat if cat is None else cat
        other.history_as_of = self.history_as_of if history_as_of is None else history_as_of
        other.history_ids = self.history_ids if history_ids is None else history_ids
        return other

    def rows(self, frame: pd.DataFrame) -> Rows:
        """Tensors of a retrieved feature frame (user and/or item columns); item ages are exact."""
        frame = self.cat.with_exact_age(frame)
        rows = Rows(
            torch.from_numpy(self.hist.rows(frame["user_id"])) if "user_id" in frame else torch.empty(0),
            torch.from_numpy(self.cat.rows(frame["item_id"])) if "item_id" in frame else torch.empty(0),
            self.enc.user_cat(frame) if "country" in frame else torch.empty(0),
            Encoders.raw_dense(frame, self.enc.user_dense),
            self.enc.item_cat(frame) if "content_type" in frame else torch.empty(0),
            Encoders.raw_dense(frame, self.enc.item_dense),
            torch.from_numpy(to_nanos(frame["event_timestamp"]))
            if "event_timestamp" in frame
            else torch.empty(0, dtype=torch.long),
        )
        entry = self.cat.graph_entry_ns
        if entry is not None and self.cat.hgnn_isolated is not None and len(rows.items) and len(rows.times):
            rows.item_isolated = torch.from_numpy(
                isolated_rows(entry, rows.items.numpy(), rows.times.numpy(), self.graph_export_ns)
            )
        return rows

    def user_batch(self, r: Rows, idx: torch.Tensor, leave_out: bool, hide: torch.Tensor | None) -> UserBatch:
        """User-tower inputs of rows ``idx``.

        Each row's history holds the items its user met strictly before the row's time, so an
        example never sees its own item nor anything later. With ``history_as_of`` off (the old
        behaviour, kept to measure the leak) it is the whole training window and ``leave_out``
        drops the row's own item. ``hide`` blanks the history and the stream counts of the
        marked rows. With ``history_ids`` (and an ID table) the batch also lists the ID rows of
        the same consumed items.
        """
        u = r.users[idx]
        at = r.times[idx] if self.history_as_of else torch.full((len(idx),), NEVER, dtype=torch.long)
        hist_sum, hist_count, weak_sum, weak_count = self.hist.as_of(u, at)
        raw = r.user_raw[idx].clone()
        if leave_out and not self.history_as_of:  # the example's own item is in the window's history
            items = r.items[idx]
            ar, t = torch.arange(len(idx)), self.cat.type_idx[items]
            hist_sum[ar, t] -= self.cat.history[items]
            hist_count[ar, t] = (hist_count[ar, t] - 1).clamp(min=0)
        if hide is not None:
            hist_sum[hide], hist_count[hide] = 0.0, 0.0
            raw[hide.unsqueeze(1) & self.stream_cols.unsqueeze(0)] = 0.0
        denom = hist_count.clamp(min=1).unsqueeze(-1)
        weak = weak_sum / weak_count.clamp(min=1).unsqueeze(-1)
        dense = self.enc.standardise(raw, self.enc.user_stats)
        ids, offsets = None, None
        if self.history_ids and self.cat.id_row is not None:
            own = r.items[idx] if leave_out and not self.history_as_of else None
            ids, offsets = self._history_ids(u, at, own, hide)
        return UserBatch(r.user_cat[idx], hist_sum / denom, hist_count, weak, weak_count, dense, ids, offsets)

    def _history_ids(
        self, users: torch.Tensor, at: torch.Tensor, own: torch.Tensor | None, hide: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ID rows of the items each user consumed before ``at``, and where each user's rows start.

        ``own``: each row's item, left out (the whole-window history holds it); ``hide``: rows
        whose history is blanked. Items without an ID vector are left out too.
        """
        assert self.cat.id_row is not None
        items, counts = self.hist.consumed_items(users, at, HISTORY_ID_CAP)
        user = np.repeat(np.arange(len(users)), counts)
        rows = self.cat.id_row.numpy()[items]
        keep = rows > 0
        if own is not None:
            keep &= items != own.numpy()[user]
        if hide is not None:
            keep &= ~hide.numpy()[user]
        offsets = np.searchsorted(user[keep], np.arange(len(users)))  # users are in row order
        return torch.from_numpy(rows[keep]), torch.from_numpy(offsets)

    def item_batch(self, r: Rows, idx: torch.Tensor, isolate: torch.Tensor | None = None) -> ItemBatch:
        """Item-tower inputs of rows ``idx``.

        ``isolate``: ``(len(idx),)`` bool, rows given their item's isolated HGNN vector whatever
        their time (``two_tower.item_graph_dropout``); ignored without isolated vectors.
        """
        items = r.items[idx]
        dense = self.enc.standardise(r.item_raw[idx], self.enc.item_stats)
        hgnn = self.cat.hgnn[items]
        if self.cat.hgnn_isolated is not None:
            alone = r.item_isolated[idx] if len(r.item_isolated) else None
            if isolate is not None:
                alone = isolate if alone is None else alone | isolate
            if alone is not None:
                hgnn = torch.where(alone.unsqueeze(1), self.cat.hgnn_isolated[items], hgnn)
        ids = None if self.cat.id_row is None else self.cat.id_row[items]
        if ids is not None and self.cat.id_since_ns is not None:  # no ID vector before a consumption
            ids = torch.where(r.times[idx] > self.cat.id_since_ns[items], ids, 0)
        return ItemBatch(r.item_cat[idx], self.cat.text[items], hgnn, dense, ids)
