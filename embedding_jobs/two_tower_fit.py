"""The two-tower training loop, and the choice of its epoch count on a validation slice.

``Inputs`` turns retrieved feature rows into tower batches (an example's history holds only what
its user met strictly before the example's time; ``history_dropout`` hides whole histories so
cold users are learned too). ``fit`` is the mini-batch loop. ``select_and_fit`` holds out the
examples of the last ``val_days`` of the training window, the slice most like the evaluation
window, trains on the older ones while measuring the validation **recall@k** after every epoch,
and refits on every example for the best count. The validation metric ranks every item of the
example's content type, leaving out what the user consumed before the example (what its history
holds): the evaluation protocol in miniature. (The in-batch softmax loss on the same slice was
tried first: it stayed within 1% of its first value while recall moved by a third, so it could
not choose.)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
import torch

from embedding_jobs.checkpoint import seed_everything
from embedding_jobs.data.batches import epoch_batches
from embedding_jobs.data.graph_entry import isolated_rows
from embedding_jobs.data.histories import NEVER, Histories
from embedding_jobs.data.interactions import Catalogue, Encoders, to_nanos
from embedding_jobs.models.two_tower import ItemBatch, TowerSpec, TwoTowerModel, TwoTowerRetriever, UserBatch
from gfm.config import TwoTowerConfig
from gfm.progress import console, make_progress

__all__ = [
    "Inputs",
    "Rows",
    "Validation",
    "fit",
    "hit_rows_at_k",
    "hits_at_k",
    "mean_over_types",
    "select_and_fit",
    "window_hit_rate",
]

Metrics = dict[str, float | int | list[float]]


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
        self, enc: Encoders, cat: Catalogue, hist: Histories, use_hgnn: bool, history_as_of: bool = True
    ) -> None:
        self.enc, self.cat, self.hist, self.use_hgnn = enc, cat, hist, use_hgnn
        self.history_as_of = history_as_of
        self.stream_cols = torch.tensor([c.startswith(("n_streams", "n_items")) for c in enc.user_dense])

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
                isolated_rows(entry, rows.items.numpy(), rows.times.numpy())
            )
        return rows

    def user_batch(self, r: Rows, idx: torch.Tensor, leave_out: bool, hide: torch.Tensor | None) -> UserBatch:
        """User-tower inputs of rows ``idx``.

        Each row's history holds the items its user met strictly before the row's time, so an
        example never sees its own item nor anything later. With ``history_as_of`` off (the old
        behaviour, kept to measure the leak) it is the whole training window and ``leave_out``
        drops the row's own item. ``hide`` blanks the history and the stream counts of the
        marked rows.
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
        return UserBatch(r.user_cat[idx], hist_sum / denom, hist_count, weak, weak_count, dense)

    def item_batch(self, r: Rows, idx: torch.Tensor) -> ItemBatch:
        """Item-tower inputs of rows ``idx``."""
        items = r.items[idx]
        dense = self.enc.standardise(r.item_raw[idx], self.enc.item_stats)
        hgnn = self.cat.hgnn[items]
        if len(r.item_isolated) and self.cat.hgnn_isolated is not None:
            hgnn = torch.where(r.item_isolated[idx].unsqueeze(1), self.cat.hgnn_isolated[items], hgnn)
        return ItemBatch(r.item_cat[idx], self.cat.text[items], hgnn, dense)


@dataclass
class Validation:
    """The validation slice: which example rows, what each user consumed before it, every item.

    Attributes:
        rows: Example row positions (into the training ``Rows``) inside the slice.
        excluded: ``[2, E]`` (position in ``rows``, catalogue row) pairs that are not ranked: the
            user's consumptions before the example.
        items: Feature rows of every catalogue item as of the slice's start.
        k: Cut-off of the recall.
        users: With the window protocol (``two_tower.val_protocol``), one feature row per user who
            consumed in the slice, as of its start; ``excluded`` then pairs those user rows with
            what they consumed before the start.
        targets: With the window protocol, ``[2, P]`` (user row, catalogue row) of every
            consumption in the slice.

    """

    rows: torch.Tensor
    excluded: torch.Tensor
    items: Rows
    k: int = 10
    users: Rows | None = None
    targets: torch.Tensor | None = None

    @staticmethod
    def exclusions(users: pd.Series, at: np.ndarray, consumed: pd.DataFrame, cat: Catalogue) -> torch.Tensor:
        """Pairs (slice position, catalogue row) for the items each slice user consumed before ``at``.

        Args:
            users: The ``user_id`` of each example in the slice, in slice order.
            at: Per example, the moment (ns, UTC) before which consumptions are left out of its
                ranking: its own time, or the slice's start for the old leaky histories.
            consumed: ``user_id``, ``item_id`` and ``at`` (ns) of every training consumption.
            cat: The catalogue (for item rows).

        """
        left = pd.DataFrame({"pos": np.arange(len(users)), "user_id": users.to_numpy(), "before": at})
        pairs = left.merge(consumed[["user_id", "item_id", "at"]], on="user_id")
        pairs = pairs.loc[pairs["at"].to_numpy() < pairs["before"].to_numpy()]
        return torch.from_numpy(
            np.stack([pairs["pos"].to_numpy(), cat.rows(pairs["item_id"])]).astype(np.int64)
        )

    @torch.no_grad()
    def recall(
        self,
        model: TwoTowerModel,
        inputs: Inputs,
        examples: Rows,
        device: torch.device,
        by_type: bool = False,
    ) -> float:
        """Recall@k of the slice: the share of examples whose item ranks in the top ``k`` of its type.

        Pooled over examples by default, so the type with the most examples (podcasts in the
        default data) weighs most. With ``by_type`` it is the mean over content types of each
        type's share, so every type weighs the same; measured, that picked more epochs and lowered
        2T's audiobook HR@10 (docs/results.md, round 4), so it is not the default.
        """
        retriever = TwoTowerRetriever(model, device)
        item_vecs = retriever.encode_items(inputs.item_batch(self.items, torch.arange(len(self.items.items))))
        if self.users is not None and self.targets is not None:  # the evaluation in miniature
            every = torch.arange(len(self.users.users))
            users = retriever.encode_users(inputs.user_batch(self.users, every, leave_out=False, hide=None))
            return window_hit_rate(users, item_vecs, inputs.cat.type_idx, self.targets, self.excluded, self.k)
        users = retriever.encode_users(inputs.user_batch(examples, self.rows, leave_out=True, hide=None))
        targets = examples.items[self.rows]
        hit = hit_rows_at_k(users, item_vecs, inputs.cat.type_idx, targets, self.excluded, self.k)
        if not by_type:
            return float(hit.float().mean()) if len(hit) else 0.0
        return mean_over_types(hit, inputs.cat.type_idx[targets])


def window_hit_rate(
    users: torch.Tensor,
    items: torch.Tensor,
    types: torch.Tensor,
    targets: torch.Tensor,
    excluded: torch.Tensor,
    k: int,
    chunk: int = 1024,
) -> float:
    """HR@k as the evaluation counts it: the share of (user, type) cells with a target in the top ``k``.

    Each user is one query; a cell is a user and a content type they consumed in the window, and
    it is hit when any of its targets ranks in the top ``k`` of that type's items, leaving out the
    user's ``excluded`` items.

    Args:
        users: ``(U, d)`` one vector per user.
        items: ``(I, d)`` every item's vector.
        types: ``(I,)`` content-type index of every item.
        targets: ``[2, P]`` (user, item) pairs consumed in the window.
        excluded: ``[2, E]`` (user, item) pairs left out of the ranking (never a target).
        k: The cut-off.
        chunk: Users scored at a time.

    """
    if targets.shape[1] == 0:
        return 0.0
    n_types = int(types.max()) + 1
    target_type = types[targets[1]]
    pair_hit = torch.zeros(targets.shape[1], dtype=torch.bool)
    for lo in range(0, len(users), chunk):
        hi = min(lo + chunk, len(users))
        scores = users[lo:hi] @ items.T
        sel = (excluded[0] >= lo) & (excluded[0] < hi)
        scores[excluded[0, sel] - lo, excluded[1, sel]] = -torch.inf
        # per user and type, the k-th best score of that type: a target at or above it is a hit
        kth = torch.full((hi - lo, n_types), -torch.inf)
        for t in range(n_types):
            of_type = types == t
            if of_type.any():
                kth[:, t] = scores[:, of_type].topk(min(k, int(of_type.sum())), dim=1).values[:, -1]
        mine = (targets[0] >= lo) & (targets[0] < hi)
        u, i = targets[0, mine] - lo, targets[1, mine]
        pair_hit[mine] = scores[u, i] >= kth[u, target_type[mine]]
    cells, cell_of_pair = torch.unique(targets[0] * n_types + target_type, return_inverse=True)
    n_hits = torch.zeros(len(cells), dtype=torch.long).index_add_(0, cell_of_pair, pair_hit.long())
    return float((n_hits > 0).float().mean())


def mean_over_types(hit: torch.Tensor, types: torch.Tensor) -> float:
    """Mean over the content types present of each type's hit share (0.0 for no rows)."""
    shares = [float(hit[types == t].float().mean()) for t in torch.unique(types).tolist()]
    return float(np.mean(shares)) if shares else 0.0


def hits_at_k(
    users: torch.Tensor,
    items: torch.Tensor,
    types: torch.Tensor,
    targets: torch.Tensor,
    excluded: torch.Tensor,
    k: int,
    chunk: int = 2048,
) -> int:
    """How many rows rank their target item in the top ``k`` among the items of its type.

    See ``hit_rows_at_k`` for the arguments.
    """
    return int(hit_rows_at_k(users, items, types, targets, excluded, k, chunk).sum())


def hit_rows_at_k(
    users: torch.Tensor,
    items: torch.Tensor,
    types: torch.Tensor,
    targets: torch.Tensor,
    excluded: torch.Tensor,
    k: int,
    chunk: int = 2048,
) -> torch.Tensor:
    """``(N,)`` bool: whether each row ranks its target item in the top ``k`` among the items of its type.

    Args:
        users: ``(N, d)`` one query vector per row.
        items: ``(I, d)`` every item's vector.
        types: ``(I,)`` content-type index of every item.
        targets: ``(N,)`` the target item of every row.
        excluded: ``[2, E]`` (row, item) pairs left out of the ranking (never the row's target).
        k: The cut-off.
        chunk: Rows scored at a time (bounds memory at ``chunk x I``).

    """
    out = []
    for lo in range(0, len(users), chunk):
        hi = min(lo + chunk, len(users))
        scores = users[lo:hi] @ items.T
        scores[types.unsqueeze(0) != types[targets[lo:hi]].unsqueeze(1)] = -torch.inf
        sel = (excluded[0] >= lo) & (excluded[0] < hi)
        scores[excluded[0, sel] - lo, excluded[1, sel]] = -torch.inf
        own = scores.gather(1, targets[lo:hi].unsqueeze(1))
        out.append((scores > own).sum(1) < k)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.bool)


def fit(
    model: TwoTowerModel,
    inputs: Inputs,
    rows: Rows,
    log_q: torch.Tensor,
    tc: TwoTowerConfig,
    device: torch.device,
    train: torch.Tensor,
    epochs: int,
    val: Validation | None = None,
) -> tuple[list[float], list[float]]:
    """Mini-batch training on the ``train`` rows; returns the mean loss of every epoch.

    ``log_q`` is per example row (``embedding_jobs.data.batches.example_log_q``): the sampling
    probability of its item as an in-batch negative, which depends on how batches are drawn.

    With ``val``, the validation recall is measured after every epoch (the second list); with
    ``tc.patience > 0`` training stops once it has not improved for that many epochs.
    """
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    gen = torch.Generator().manual_seed(tc.seed)
    n_batches = max(len(train) // tc.batch_size, 1)  # full batches only (epoch_batches)
    losses: list[float] = []
    recalls: list[float] = []
    label = "choosing epochs" if val is not None else "training"
    with make_progress() as progress:
        task = progress.add_task(f"two-tower {label}", total=epochs * n_batches)
        for epoch in range(epochs):
            model.train()
            total = 0.0
            for idx in epoch_batches(train, rows.times, tc.batch_size, tc.batch_days, gen):
                hide = torch.rand(len(idx), generator=gen) < tc.history_dropout
                users = inputs.user_batch(rows, idx, leave_out=True, hide=hide).to(device)
                items = inputs.item_batch(rows, idx).to(device)
                item_rows = rows.items[idx]
                loss = model.loss(users, items, item_rows.to(device), log_q[idx].to(device))
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                total += loss.item()
                progress.update(task, advance=1, description=f"two-tower {label} {epoch + 1}/{epochs}")
            losses.append(total / n_batches)
            if val is not None:
                recalls.append(val.recall(model, inputs, rows, device, by_type=tc.val_by_type))
                best = int(np.argmax(recalls))
                if tc.patience and len(recalls) - 1 - best >= tc.patience:
                    break
    return losses, recalls


def select_and_fit(
    spec: TowerSpec,
    inputs: Inputs,
    rows: Rows,
    log_q: torch.Tensor,
    tc: TwoTowerConfig,
    device: torch.device,
    val: Validation | None,
) -> tuple[TwoTowerModel, Metrics]:
    """Choose the epoch count on ``val`` (when given), then train on every example for it.

    Without a validation slice the model trains ``tc.epochs`` epochs.
    """
    every = torch.arange(len(rows.items))
    metrics: Metrics = {}
    epochs = tc.epochs
    trained = 0  # examples seen by the optimiser, the selection run included
    if val is not None:
        seed_everything(tc.seed)
        probe = TwoTowerModel(tc, spec).to(device)
        older = every[~torch.isin(every, val.rows)]
        _, recalls = fit(probe, inputs, rows, log_q, tc, device, older, tc.epochs, val)
        epochs = 1 + int(np.argmax(recalls))
        trained += len(older) * len(recalls)
        metrics.update(val_recalls=recalls, n_val_examples=len(val.rows))
        if val.users is not None:
            measure = f"HR@{val.k} of {len(val.users.users):,} users as of the slice's start"
        else:
            measure = f"recall@{val.k}{' (mean over types)' if tc.val_by_type else ''}"
        console.print(
            f"two-tower: validation {measure} is highest after {epochs} epochs "
            f"({recalls[epochs - 1]:.3f} on {len(val.rows):,} examples of the last {tc.val_days} days)"
        )
    seed_everything(tc.seed)
    model = TwoTowerModel(tc, spec).to(device)
    losses, _ = fit(model, inputs, rows, log_q, tc, device, every, epochs)
    trained += len(every) * epochs
    metrics.update(epochs=epochs, epoch_losses=losses, final_loss=losses[-1], trained_examples=trained)
    return model, metrics
