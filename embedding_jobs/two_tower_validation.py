"""The validation slice that chooses the two-tower's epoch count, and its rankings.

The slice is the last ``val_days`` of the training window, the days most like the evaluation
window (or, where times are made up, a random share of the examples: ``two_tower.val_share``).
With the "example" protocol each example's item is ranked among every item of its type for its
user as of the example, leaving out what the user consumed before it (what its history holds;
for a random share, all of the user's other training items); with "window" each user is
encoded once as of the slice's start and HR@k is counted per user and type over everything they
consume in it, as the evaluation counts its window (a random slice: each user once as of the
window's end, their held-out pairs the targets, as a fixed split's test is counted). A random
slice's pairs are also left out of the histories and the HGNN vectors its selection runs read
(``Validation.hist``, ``cat``). (The
in-batch softmax loss on the same slice was tried first: it stayed within 1% of its first value
while recall moved by a third, so it could not choose.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.histories import Histories
from embedding_jobs.data.interactions import Catalogue
from embedding_jobs.models.two_tower import TwoTowerModel, TwoTowerRetriever
from embedding_jobs.two_tower_inputs import Inputs, Rows

__all__ = ["Validation", "hit_rows_at_k", "hits_at_k", "mean_over_types", "window_hit_rate"]


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
        what: What the slice holds, in words, for the run's output.
        hist: The histories the selection runs read, when they differ from the training
            inputs': for a random slice, every training-window history without the slice's
            pairs, so no selection-run example sees a held-out item (whose ID vector, with
            ``two_tower.history_ids``, would otherwise be trained towards its user), as no
            exported history holds a test item. None: the inputs' own.
        cat: The catalogue the selection runs read, when it differs from the training inputs':
            for a random slice, HGNN vectors made over the item graph recounted without the
            slice's pairs (``embedding_jobs.held_out_graph``). None: the inputs' own.

    """

    rows: torch.Tensor
    excluded: torch.Tensor
    items: Rows
    k: int = 10
    users: Rows | None = None
    targets: torch.Tensor | None = None
    what: str = "examples of the slice"
    hist: Histories | None = None
    cat: Catalogue | None = None

    @staticmethod
    def exclusions(
        users: pd.Series,
        at: np.ndarray,
        consumed: pd.DataFrame,
        cat: Catalogue,
        own: np.ndarray | None = None,
    ) -> torch.Tensor:
        """Pairs (slice position, catalogue row) for the items each slice user consumed before ``at``.

        Args:
            users: The ``user_id`` of each example in the slice, in slice order.
            at: Per example, the moment (ns, UTC) before which consumptions are left out of its
                ranking: its own time, the slice's start for the old leaky histories, or the
                largest moment for all of the user's consumptions (a random slice).
            consumed: ``user_id``, ``item_id`` and ``at`` (ns) of every training consumption.
            cat: The catalogue (for item rows).
            own: Per example, its own ``item_id``, never left out (needed when ``at`` reaches
                past the example); None: nothing kept back.

        """
        left = pd.DataFrame({"pos": np.arange(len(users)), "user_id": users.to_numpy(), "before": at})
        pairs = left.merge(consumed[["user_id", "item_id", "at"]], on="user_id")
        keep = pairs["at"].to_numpy() < pairs["before"].to_numpy()
        if own is not None:
            keep &= pairs["item_id"].to_numpy() != own[pairs["pos"].to_numpy()]
        pairs = pairs.loc[keep]
        return torch.from_numpy(
            np.stack([pairs["pos"].to_numpy(), cat.rows(pairs["item_id"])]).astype(np.int64)
        )

    def margin(self, recall: float, types: torch.Tensor) -> float:
        """Two standard errors of a recall of ``recall`` measured on this slice (a binomial share).

        The recall is a share of examples, or with the window protocol of (user, content type)
        cells; ``types`` is every catalogue item's content-type index.
        """
        n = len(self.rows)
        if self.users is not None and self.targets is not None:
            n_types = int(types.max()) + 1
            n = len(torch.unique(self.targets[0] * n_types + types[self.targets[1]]))
        return 2.0 * float(np.sqrt(max(recall * (1.0 - recall), 0.0) / max(n, 1)))

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
        # a slice with its own histories (``hist``) holds none of its pairs: nothing to leave out
        users = retriever.encode_users(
            inputs.user_batch(examples, self.rows, leave_out=self.hist is None, hide=None)
        )
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
