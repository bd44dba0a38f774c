"""Two-tower retrieval model: user tower, item tower, in-batch softmax task, serving wrapper.

The model is content-type agnostic: content types are an embedded categorical input of the item
tower and the user tower sees one history slot per type. The HGNN item embeddings are shared,
frozen inputs of both towers (the 2T-HGNN of arXiv 2403.05185): the item tower reads them beside
the text vector, and the user tower summarises its history with text and HGNN vectors
(``two_tower.history_vectors`` "hgnn": the HGNN vectors alone, as in arXiv 2403.07478). With
``use_hgnn=False`` they are left out everywhere (the "2T" baseline): by default 2T-HGNN is exactly
2T plus HGNN inputs, so the comparison measures what the graph adds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gfm.config import TwoTowerConfig


@dataclass(frozen=True)
class TowerSpec:
    """Input sizes of the towers, derived from the data (stored in the checkpoint).

    Attributes:
        n_types: Number of content types (history slots of the user tower).
        n_countries: Country vocabulary size (index 0 = unknown).
        n_ages: Age-bucket vocabulary size (index 0 = unknown).
        n_genres: Genre vocabulary size (index 0 = unknown).
        n_languages: Language vocabulary size (index 0 = unknown).
        hist_dim: Dimension of one history vector (text + HGNN dims, or text dim without HGNN).
        text_dim: Dimension of the item text vectors.
        hgnn_dim: Dimension of the HGNN vectors (0 when HGNN inputs are off).
        user_dense: Number of dense (numeric) user features.
        item_dense: Number of dense (numeric) item features.
        n_id_items: Rows of the item ID table (``two_tower.item_ids``; row 0: no ID vector), 0
            without one.

    """

    n_types: int
    n_countries: int
    n_ages: int
    n_genres: int
    n_languages: int
    hist_dim: int
    text_dim: int
    hgnn_dim: int
    user_dense: int
    item_dense: int
    n_id_items: int = 0  # checkpoints saved before the ID table existed have none

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class UserBatch:
    """User-tower inputs for a batch of users.

    Attributes:
        cat: ``(B, 2)`` long, country and age-bucket indices.
        hist: ``(B, T, D)`` mean vector of the user's consumed items per content type (0 if none).
        hist_count: ``(B, T)`` number of consumed items per type.
        weak: ``(B, T, D)`` mean vector of the items the user followed/previewed/intended to pay for.
        weak_count: ``(B, T)`` number of such items per type.
        dense: ``(B, F)`` standardised activity features (Feast ``user_activity``).
        ids: ``(L,)`` long, the ID-table rows of each user's consumed items, one user after
            another (``two_tower.history_ids``); None without them.
        id_offsets: ``(B,)`` long, where each user's rows start in ``ids``.

    """

    cat: torch.Tensor
    hist: torch.Tensor
    hist_count: torch.Tensor
    weak: torch.Tensor
    weak_count: torch.Tensor
    dense: torch.Tensor
    ids: torch.Tensor | None = None
    id_offsets: torch.Tensor | None = None

    def to(self, device: torch.device) -> UserBatch:
        """Move every tensor to ``device``."""
        ids = None if self.ids is None else self.ids.to(device)
        offsets = None if self.id_offsets is None else self.id_offsets.to(device)
        cat, hist, hist_count, weak, weak_count, dense = (t.to(device) for t in self._tensors())
        return UserBatch(cat, hist, hist_count, weak, weak_count, dense, ids, offsets)

    def _tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.cat, self.hist, self.hist_count, self.weak, self.weak_count, self.dense)


@dataclass
class ItemBatch:
    """Item-tower inputs for a batch of items.

    Attributes:
        cat: ``(B, 3)`` long, content type, genre and language indices.
        text: ``(B, text_dim)`` text vectors.
        hgnn: ``(B, hgnn_dim)`` HGNN vectors (``(B, 0)`` without HGNN inputs).
        dense: ``(B, F)`` standardised popularity features (Feast ``item_stats``).
        ids: ``(B,)`` long, each item's row of the ID table (0: none); None without the table.

    """

    cat: torch.Tensor
    text: torch.Tensor
    hgnn: torch.Tensor
    dense: torch.Tensor
    ids: torch.Tensor | None = None

    def to(self, device: torch.device) -> ItemBatch:
        """Move every tensor to ``device``."""
        return ItemBatch(
            self.cat.to(device),
            self.text.to(device),
            self.hgnn.to(device),
            self.dense.to(device),
            None if self.ids is None else self.ids.to(device),
        )

    @classmethod
    def concat(cls, parts: list[ItemBatch]) -> ItemBatch:
        """The items of several batches, in order."""
        ids = [p.ids for p in parts]
        return cls(
            torch.cat([p.cat for p in parts]),
            torch.cat([p.text for p in parts]),
            torch.cat([p.hgnn for p in parts]),
            torch.cat([p.dense for p in parts]),
            None if any(i is None for i in ids) else torch.cat([i for i in ids if i is not None]),
        )


def _mlp(in_dim: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.LayerNorm(in_dim),
        nn.Linear(in_dim, hidden),
        nn.GELU(),
        nn.Linear(hidden, hidden),
        nn.GELU(),
        nn.Linear(hidden, out),
    )


class HgnnSkip(nn.Module):
    """The HGNN's item-to-item similarity as a path around both towers' MLPs (``hgnn_skip``).

    The towers mix the HGNN vectors into hundreds of other inputs through MLPs trained for a few
    epochs, and 2T-HGNN measured below HGNN-kNN alone on the communities data (docs/results.md,
    round 7). This path adds ``P h`` to each tower's output before the normalisation: for an item
    ``h`` is its unit HGNN vector, for a user the unit mean HGNN vector of the items consumed before
    the example. ``P`` is one linear map shared by both towers, initialised orthogonal so that at
    the start ``(P h_u) . (P h_i) = h_u . h_i``, the HGNN-kNN score; training learns what to add.
    The towers' MLP outputs are added too, and at PyTorch's default initialisation they outweigh
    ``P h``; ``two_tower.skip_start_scale`` shrinks them at the start.
    """

    def __init__(self, hgnn_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hgnn_dim, dim, bias=False)
        nn.init.orthogonal_(self.proj.weight)

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """``(B, dim)`` projection of the unit ``(B, hgnn_dim)`` vectors (zero rows stay zero)."""
        out: torch.Tensor = self.proj(F.normalize(vectors, dim=1))
        return out


class UserTower(nn.Module):
    """Profile + per-type history + weak signals + activity -> L2-normalised ``dim`` vector."""

    def __init__(self, config: TwoTowerConfig, spec: TowerSpec, skip: HgnnSkip | None = None) -> None:
        super().__init__()
        emb = 16
        self.country = nn.Embedding(spec.n_countries, emb)
        self.age = nn.Embedding(spec.n_ages, emb)
        in_dim = 2 * emb + 2 * spec.n_types * (spec.hist_dim + 1) + spec.user_dense
        self.mlp = _mlp(in_dim, config.hidden_dim, config.dim)
        self.skip = skip
        self.hgnn_dim = spec.hgnn_dim
        self.ids: nn.Embedding | None = None  # the item tower's ID table (``history_ids``)

    def forward(self, batch: UserBatch) -> torch.Tensor:
        """Encode a batch of users."""
        parts = [
            self.country(batch.cat[:, 0]),
            self.age(batch.cat[:, 1]),
            batch.hist.flatten(1),
            torch.log1p(batch.hist_count),
            batch.weak.flatten(1),
            torch.log1p(batch.weak_count),
            batch.dense,
        ]
        out = self.mlp(torch.cat(parts, dim=1))
        if self.skip is not None:  # the HGNN part closes each type's history vector
            hgnn = batch.hist[:, :, -self.hgnn_dim :]
            count = batch.hist_count.unsqueeze(2)
            out = out + self.skip((hgnn * count).sum(1) / count.sum(1).clamp(min=1.0))
        if self.ids is not None and batch.ids is not None:  # an empty history adds zero
            out = out + F.embedding_bag(batch.ids, self.ids.weight, batch.id_offsets, mode="mean")
        return F.normalize(out, dim=1)


class ItemTower(nn.Module):
    """Text + HGNN vectors + type/genre/language + popularity -> L2-normalised ``dim`` vector."""

    def __init__(self, config: TwoTowerConfig, spec: TowerSpec, skip: HgnnSkip | None = None) -> None:
        super().__init__()
        emb = 16
        self.content_type = nn.Embedding(spec.n_types, emb)
        self.genre = nn.Embedding(spec.n_genres, emb)
        self.language = nn.Embedding(spec.n_languages, emb)
        in_dim = 3 * emb + spec.text_dim + spec.hgnn_dim + spec.item_dense
        self.mlp = _mlp(in_dim, config.hidden_dim, config.dim)
        self.skip = skip
        self.ids: nn.Embedding | None = None
        if spec.n_id_items:  # zero at the start, and row 0 (items without one) stays zero
            self.ids = nn.Embedding(spec.n_id_items, config.dim, padding_idx=0)
            nn.init.zeros_(self.ids.weight)

    def forward(self, batch: ItemBatch) -> torch.Tensor:
        """Encode a batch of items."""
        parts = [
            self.content_type(batch.cat[:, 0]),
            self.genre(batch.cat[:, 1]),
            self.language(batch.cat[:, 2]),
            batch.text,
            batch.hgnn,
            batch.dense,
        ]
        out = self.mlp(torch.cat(parts, dim=1))
        if self.skip is not None:
            out = out + self.skip(batch.hgnn)
        if self.ids is not None and batch.ids is not None:
            out = out + self.ids(batch.ids)
        return F.normalize(out, dim=1)


def repeated_columns(item_ids: torch.Tensor, n_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``(row, column)`` whose column holds row's own item, the row's own column excepted.

    Row ``i``'s item is ``item_ids[i]`` (``i < n_rows``); the columns are all of ``item_ids``. Found by
    sorting the columns once, so the cost follows the columns, not rows x columns.
    """
    order = torch.argsort(item_ids, stable=True)
    ranked = item_ids[order]
    own = item_ids[:n_rows]
    lo = torch.searchsorted(ranked, own)
    count = torch.searchsorted(ranked, own, right=True) - lo
    row = torch.repeat_interleave(torch.arange(n_rows, device=item_ids.device), count)
    within = torch.arange(int(count.sum()), device=item_ids.device) - torch.repeat_interleave(
        torch.cumsum(count, 0) - count, count
    )
    col = order[torch.repeat_interleave(lo, count) + within]
    other = row != col
    return row[other], col[other]


class InBatchSoftmaxTask(nn.Module):
    """In-batch sampled softmax with temperature and log-frequency (logQ) correction.

    Every other positive in the batch is a negative, and so is every extra column appended after
    the positives (``two_tower.catalogue_negatives``). Popular items appear as in-batch negatives
    more often than a uniform sample would give, so their logit is lowered by ``log q(item)``
    (Yi et al., 2019). Columns holding the row's own item elsewhere in the batch are masked so a
    repeated item is never its own negative.
    """

    def __init__(self, config: TwoTowerConfig) -> None:
        super().__init__()
        self.temperature = config.temperature
        self.logq_correction = config.logq_correction

    def logits(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        item_ids: torch.Tensor,
        log_q: torch.Tensor,
        types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(B, C)`` corrected logits; row i's positive is column i.

        Args:
            users: ``(B, dim)`` user vectors.
            items: ``(C, dim)`` item vectors: the ``B`` positives, then any extra negatives
                (``two_tower.catalogue_negatives``).
            item_ids: ``(C,)`` item ids (to mask duplicates).
            log_q: ``(C,)`` log sampling probability of each column's item.
            types: ``(C,)`` each column's content type; given, a row's columns of other types are
                masked (``two_tower.softmax_within_type``).

        """
        # one fused product: the scale and the correction ride on the matrix product, and the few
        # repeated items are masked in place, so no pass over the whole (B, C) matrix is added
        # (a training step's largest tensor: 4,096 x 5,120 on Yelp2018)
        bias = -log_q.unsqueeze(0) if self.logq_correction else log_q.new_zeros(1, len(log_q))
        logits = torch.addmm(bias.to(users.dtype), users, items.T, alpha=1.0 / self.temperature)
        if types is not None:  # never masks the diagonal: a positive has its own type
            rows = torch.arange(len(users), device=users.device)
            same = item_ids[: len(users)].unsqueeze(1) == item_ids.unsqueeze(0)
            same[rows, rows] = False
            same |= types[: len(users)].unsqueeze(1) != types.unsqueeze(0)
            return logits.masked_fill(same, float("-inf"))
        row, col = repeated_columns(item_ids, len(users))
        return logits.index_put_((row, col), logits.new_tensor(float("-inf")))

    def forward(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        item_ids: torch.Tensor,
        log_q: torch.Tensor,
        types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean cross-entropy loss of the batch."""
        logits = self.logits(users, items, item_ids, log_q, types)
        target = torch.arange(logits.shape[0], device=logits.device)
        return F.cross_entropy(logits, target)


class TwoTowerModel(nn.Module):
    """Both towers and the training task, built from one config and the data's spec."""

    def __init__(self, config: TwoTowerConfig, spec: TowerSpec) -> None:
        super().__init__()
        self.config = config
        self.spec = spec
        skip = HgnnSkip(spec.hgnn_dim, config.dim) if config.hgnn_skip and spec.hgnn_dim else None
        self.user_tower = UserTower(config, spec, skip)  # one skip module, shared by both towers
        self.item_tower = ItemTower(config, spec, skip)
        self.task = InBatchSoftmaxTask(config)
        if config.history_ids and self.item_tower.ids is not None:  # one table read by both towers
            self.user_tower.ids = self.item_tower.ids
        if skip is not None and config.skip_start_scale != 1.0:
            for tower in (self.user_tower, self.item_tower):
                last = tower.mlp[-1]
                assert isinstance(last, nn.Linear)
                with torch.no_grad():
                    last.weight.mul_(config.skip_start_scale)
                    last.bias.zero_()

    def loss(
        self,
        users: UserBatch,
        items: ItemBatch,
        item_ids: torch.Tensor,
        log_q: torch.Tensor,
        types: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Training loss of a batch of (user, positive item) pairs (``types``: see the task)."""
        loss: torch.Tensor = self.task(self.user_tower(users), self.item_tower(items), item_ids, log_q, types)
        if self.config.id_reg > 0:
            loss = loss + self.config.id_reg * self.id_penalty(users, items)
        return loss

    def id_penalty(self, users: UserBatch, items: ItemBatch) -> torch.Tensor:
        """Mean over the batch's examples of the squared norms of the ID vectors each one reads.

        An example reads its positive item's vector (the first ``len(users)`` item columns; the
        catalogue negatives after them belong to no example) and, with ``history_ids``, the mean
        over its history's vectors; the penalty is each vector's squared norm, the history's
        averaged as the user tower averages the vectors. Zero without an ID table. With
        ``id_reg_per`` "row": the mean squared norm over the table's rows instead, whichever the
        batch reads (row 0, items without a vector, stays zero and is left out).
        """
        table = self.item_tower.ids
        if table is None or items.ids is None:
            return torch.zeros((), device=items.text.device)
        if self.config.id_reg_per == "row":
            return table.weight[1:].pow(2).sum(1).mean()
        n = users.cat.shape[0]
        penalty: torch.Tensor = table(items.ids[:n]).pow(2).sum(1).mean()
        if self.user_tower.ids is not None and users.ids is not None:
            norms = table.weight.pow(2).sum(1, keepdim=True)
            penalty = penalty + F.embedding_bag(users.ids, norms, users.id_offsets, mode="mean").mean()
        return penalty


class TwoTowerRetriever:
    """Serving wrapper: encodes users and items in eval mode, without gradients, in chunks."""

    def __init__(self, model: TwoTowerModel, device: torch.device, chunk: int = 4096) -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.chunk = chunk

    @torch.no_grad()
    def encode_users(self, batch: UserBatch) -> torch.Tensor:
        """``(N, dim)`` CPU float32 user vectors."""
        n = batch.cat.shape[0]
        out = [
            self.model.user_tower(_slice_user(batch, s, s + self.chunk).to(self.device)).cpu()
            for s in range(0, n, self.chunk)
        ]
        return torch.cat(out) if out else torch.empty(0, self.model.config.dim)

    @torch.no_grad()
    def encode_items(self, batch: ItemBatch) -> torch.Tensor:
        """``(N, dim)`` CPU float32 item vectors."""
        n = batch.cat.shape[0]
        out = [
            self.model.item_tower(_slice_item(batch, s, s + self.chunk).to(self.device)).cpu()
            for s in range(0, n, self.chunk)
        ]
        return torch.cat(out) if out else torch.empty(0, self.model.config.dim)


def _slice_user(b: UserBatch, start: int, stop: int) -> UserBatch:
    ids, offsets = None, None
    if b.ids is not None and b.id_offsets is not None:
        n = len(b.id_offsets)
        lo = int(b.id_offsets[start]) if start < n else len(b.ids)
        hi = int(b.id_offsets[stop]) if stop < n else len(b.ids)
        ids, offsets = b.ids[lo:hi], b.id_offsets[start:stop] - lo
    cat, hist, hist_count, weak, weak_count, dense = (t[start:stop] for t in b._tensors())
    return UserBatch(cat, hist, hist_count, weak, weak_count, dense, ids, offsets)


def _slice_item(b: ItemBatch, start: int, stop: int) -> ItemBatch:
    ids = None if b.ids is None else b.ids[start:stop]
    return ItemBatch(b.cat[start:stop], b.text[start:stop], b.hgnn[start:stop], b.dense[start:stop], ids)
