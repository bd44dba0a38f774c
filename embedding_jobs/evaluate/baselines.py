"""Every evaluated model as a pair of (user, item) matrices whose dot product is the score.

* Popularity: one column, the item's training-window consumers.
* Mean-vector kNN (text-kNN, as LLM-KNN in the seed): the user is the mean of the L2-normalised
  vectors of the items they consumed in training, scored by cosine.
* Item mixture (HGNN-kNN, vectors trained by a softmax): the log of the mean over the user's items
  of the softmax's P(candidate | item), a chunk scorer rather than a pair of matrices; optionally
  each item's softmax over its graph partners alone (``partners``, what 2T-HGNN serves).
* Two-tower: the exported user and item vectors of a version.
* Blend: a two-tower's softmax and the item mixture combined per candidate (``blend``).

A user with nothing to average (no consumption, and no follow or preview either for the kNN
baselines) falls back to popularity: the item matrix gets one extra column holding popularity
scaled to [0, 1], which only such users weight.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from embedding_jobs.evaluate.metrics import ChunkScorer
from embedding_jobs.evaluate.protocol import EvalTask
from embedding_jobs.partners import Partners


def item_popularity(fct_interactions: pd.DataFrame) -> pd.Series:
    """Training-window consumers per item."""
    consumed = fct_interactions.loc[fct_interactions["is_consumed"].astype(bool)]
    return consumed.groupby("item_id")["user_id"].nunique()


def pop_column(task: EvalTask, popularity: pd.Series) -> torch.Tensor:
    """``(I, 1)`` log popularity of the task's candidates scaled to [0, 1], with a positional tie-break."""
    pop = np.log1p(popularity.reindex(task.item_ids, fill_value=0).to_numpy(dtype=np.float64))
    # a minute tie-break by catalogue position keeps rankings identical across runs and devices
    pop = pop / max(pop.max(), 1.0) - 1e-9 * np.arange(len(task.item_ids))
    return torch.from_numpy(pop).float().unsqueeze(1)


def popularity(task: EvalTask, popularity: pd.Series) -> tuple[torch.Tensor, torch.Tensor]:
    """Every user gets the same ranking: most training-window consumers first."""
    return torch.ones(len(task.user_ids), 1), pop_column(task, popularity)


def _aligned(ids: np.ndarray, vecs: np.ndarray, wanted: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """Rows of ``vecs`` for ``wanted`` ids (zeros where missing) and a found mask."""
    pos = pd.Series(np.arange(len(ids)), index=ids).reindex(wanted)
    found = pos.notna().to_numpy()
    out = np.zeros((len(wanted), vecs.shape[1]), dtype=np.float32)
    out[found] = vecs[pos[found].to_numpy(dtype=np.int64)]
    return torch.from_numpy(out), found


def user_item_lists(fct_interactions: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per user: consumed items, and weak-signal (follow/preview/intent) items, of the training window."""
    consumed = fct_interactions["is_consumed"].astype(bool)
    weak_cols = [c for c in ("n_follows", "n_previews", "n_intent_to_pay") if c in fct_interactions.columns]
    weak = fct_interactions[weak_cols].fillna(0).sum(axis=1) > 0
    cons = fct_interactions.loc[consumed].groupby("user_id")["item_id"].apply(np.asarray)
    weak_items = fct_interactions.loc[weak & ~consumed].groupby("user_id")["item_id"].apply(np.asarray)
    return cons, weak_items


def _unit(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    unit: np.ndarray = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return unit.astype(np.float32)


def _histories(task: EvalTask, ids: np.ndarray, consumed: pd.Series, weak: pd.Series) -> list[np.ndarray]:
    """Per task user, the rows of ``ids`` of their training items (their weak signals if none)."""
    lookup = pd.Series(np.arange(len(ids)), index=ids)
    out = []
    for user in task.user_ids.tolist():
        items = consumed.get(user)
        if items is None or len(items) == 0:
            items = weak.get(user)
        out.append(lookup.reindex(items if items is not None else []).dropna().to_numpy(dtype=np.int64))
    return out


def mean_vector(
    task: EvalTask,
    vectors: tuple[np.ndarray, np.ndarray],
    consumed: pd.Series,
    weak: pd.Series,
    popularity: pd.Series,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine between the mean of the user's item vectors and each candidate.

    Args:
        task: The ranking task.
        vectors: ``(ids, vectors)`` of every item (text or HGNN).
        consumed: Per user, the items consumed in training (any content type).
        weak: Per user, items followed/previewed in training, used when nothing was consumed.
        popularity: Training-window consumers per item (the last fallback).

    """
    ids, vecs = vectors
    norm = _unit(vecs)
    users = np.zeros((len(task.user_ids), norm.shape[1] + 1), dtype=np.float32)
    for row, pos in enumerate(_histories(task, ids, consumed, weak)):
        if len(pos):
            mean = norm[pos].mean(axis=0)
            users[row, :-1] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        else:
            users[row, -1] = 1.0
    item_vecs, _ = _aligned(ids, norm, task.item_ids)
    return torch.from_numpy(users), torch.cat([item_vecs, pop_column(task, popularity)], dim=1)


def item_mixture(
    task: EvalTask,
    vectors: tuple[np.ndarray, np.ndarray],
    consumed: pd.Series,
    weak: pd.Series,
    popularity: pd.Series,
    temperature: float,
    depth: int | None = None,
    rows_at_once: int = 2048,
    partners: Partners | None = None,
) -> ChunkScorer:
    """Score log P(b | user) for a user who draws each next item from the neighbourhood of one of their items.

    ``mean_vector`` scores the centre of the user's items; this scores a mixture of them. A model
    trained with a sampled softmax at temperature ``t`` over the items of one type learns
    P(b | h) = exp(cos(h, b) / t) / Z(h), Z(h) summing over the type's items other than ``h``. The
    score is the log of the mean of P(b | h) over the user's items ``h``, computed over the task's
    candidates (the type's items, or the catalogue on a fixed split).

    Args:
        task: The ranking task.
        vectors: ``(ids, vectors)`` of every item.
        consumed: Per user, the items consumed in training (any content type).
        weak: Per user, items followed/previewed in training, used when nothing was consumed.
        popularity: Training-window consumers per item (the fallback for users with no items).
        temperature: The softmax temperature ``t`` the vectors were trained at.
        depth: Each item's P(b | h) over its ``depth`` nearest candidates only (the others get no
            term), as the service reads Milvus (``vector_index.mixture``); None: every candidate.
            These are computed once per distinct item, not per user, and summed per user.
        rows_at_once: History rows scored against the candidates at once (bounds memory).
        partners: Each item's graph partners: an item with a partner among the candidates reads
            P(b | h) over those partners alone (its ``depth`` nearest of them with ``depth``), one
            with none over the candidates as above (``two_tower.mixture_reads``, as served).

    """
    ids, vecs = vectors
    norm = torch.from_numpy(_unit(vecs))
    mates = partners.matrix(ids, task.item_ids) if partners is not None else None
    histories = _histories(task, ids, consumed, weak)
    cands, _ = _aligned(ids, norm.numpy(), task.item_ids)
    # each history item's own column among the candidates (-1: not a candidate): P(h | h) is not a term
    column = pd.Series(np.arange(len(task.item_ids)), index=task.item_ids).reindex(ids)
    own_column = torch.from_numpy(column.fillna(-1).to_numpy(dtype=np.int64))
    pop = pop_column(task, popularity).squeeze(1)

    def logits_of(rows: torch.Tensor) -> torch.Tensor:
        """P(b | h)'s logits for history rows ``rows`` over the candidates (its own column -inf)."""
        logits = (norm[rows] @ cands.T) / temperature
        own = own_column[rows]
        logits[torch.nonzero(own >= 0).squeeze(1), own[own >= 0]] = float("-inf")
        return logits if mates is None else _within_partners(logits, mates[rows.numpy()])

    def finish(acc: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
        out = torch.log(acc.clamp_min(1e-30) / sizes.clamp_min(1).unsqueeze(1))
        out[sizes == 0] = pop
        return out

    if depth is not None and depth < len(task.item_ids):
        where, top_ids, top_p = _nearest_mass(histories, len(ids), logits_of, depth, rows_at_once)

        def sparse_score(start: int, stop: int) -> torch.Tensor:
            mine = histories[start:stop]
            sizes = torch.tensor([len(h) for h in mine], dtype=torch.int64)
            at = where[torch.from_numpy(np.concatenate([np.zeros(0, dtype=np.int64), *mine]))]
            owner = torch.repeat_interleave(torch.arange(stop - start), sizes * depth)
            acc = torch.zeros(stop - start, len(task.item_ids))
            acc.index_put_((owner, top_ids[at].reshape(-1)), top_p[at].reshape(-1), accumulate=True)
            return finish(acc, sizes)

        return sparse_score

    def score(start: int, stop: int) -> torch.Tensor:
        mine = histories[start:stop]
        sizes = torch.tensor([len(h) for h in mine], dtype=torch.int64)
        owner = torch.repeat_interleave(torch.arange(stop - start), sizes)
        rows = torch.from_numpy(np.concatenate([np.zeros(0, dtype=np.int64), *mine]))
        acc = torch.zeros(stop - start, len(task.item_ids))
        for at in range(0, len(rows), rows_at_once):
            # a task whose only candidate is the item itself has no term (0, not NaN)
            probs = torch.nan_to_num(torch.softmax(logits_of(rows[at : at + rows_at_once]), dim=1), nan=0.0)
            acc.index_add_(0, owner[at : at + rows_at_once], probs)
        return finish(acc, sizes)

    return score


def _within_partners(logits: torch.Tensor, mates: sp.csr_matrix) -> torch.Tensor:
    """Each row's logits with its non-partners at -inf; a row with no partner left as it is."""
    allowed = torch.zeros_like(logits, dtype=torch.bool)
    r, c = mates.nonzero()
    allowed[torch.from_numpy(r.astype(np.int64)), torch.from_numpy(c.astype(np.int64))] = True
    allowed &= torch.isfinite(logits)
    some = allowed.any(dim=1, keepdim=True)
    return logits.masked_fill(some & ~allowed, float("-inf"))


def _nearest_mass(
    histories: list[np.ndarray],
    n_rows: int,
    logits_of: Callable[[torch.Tensor], torch.Tensor],
    depth: int,
    rows_at_once: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(where, ids, probs)``: each distinct history row's ``depth`` likeliest candidates (line ``where[row]``).

    The softmax over the kept logits is the softmax over all of them with the others at -inf.
    """
    distinct = torch.from_numpy(np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *histories])))
    top_ids = torch.zeros(len(distinct), depth, dtype=torch.int64)
    top_p = torch.zeros(len(distinct), depth)
    for at in range(0, len(distinct), rows_at_once):
        kept = logits_of(distinct[at : at + rows_at_once]).topk(depth, dim=1)
        top_ids[at : at + rows_at_once] = kept.indices
        top_p[at : at + rows_at_once] = torch.nan_to_num(torch.softmax(kept.values, dim=1), nan=0.0)
    where = torch.full((n_rows,), -1, dtype=torch.int64)
    where[distinct] = torch.arange(len(distinct))
    return where, top_ids, top_p


def two_tower(
    task: EvalTask,
    users: tuple[np.ndarray, np.ndarray],
    items: tuple[np.ndarray, np.ndarray],
    popularity: pd.Series,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dot product of exported two-tower vectors (a user missing from the export gets popularity)."""
    user_vecs, found = _aligned(users[0], users[1], task.user_ids)
    item_vecs, _ = _aligned(items[0], items[1], task.item_ids)
    fallback = torch.from_numpy((~found).astype(np.float32)).unsqueeze(1)
    return torch.cat([user_vecs, fallback], dim=1), torch.cat(
        [item_vecs, pop_column(task, popularity)], dim=1
    )


def has_history(
    task: EvalTask, vectors: tuple[np.ndarray, np.ndarray], consumed: pd.Series, weak: pd.Series
) -> np.ndarray:
    """``(U,)`` bool: whether each task user has an item with a vector to read (``item_mixture``'s rule)."""
    return np.array([len(h) > 0 for h in _histories(task, vectors[0], consumed, weak)], dtype=bool)


def blend(
    tower: tuple[torch.Tensor, torch.Tensor],
    tower_temperature: float,
    mixture: ChunkScorer,
    history: np.ndarray,
    rule: str,
    weight: float,
    depth: int | None = None,
    fresh: torch.Tensor | None = None,
) -> ChunkScorer:
    """Combine a two-tower's softmax P_tt(b | u) with the item mixture's P_mix(b | u), per candidate.

    Both are distributions over the task's candidates: the two-tower was trained as an in-batch
    softmax (with the logQ correction) at ``tower_temperature``, so ``softmax(u . b / t)`` estimates
    its P(b | u); ``item_mixture`` returns log P_mix(b | u).

    Args:
        tower: ``(user matrix, item matrix)`` of the two-tower (``two_tower``).
        tower_temperature: The two-tower's training temperature.
        mixture: ``item_mixture``'s scorer over the same task.
        history: ``has_history`` of the task's users; a user without one is scored by the tower alone.
        rule: "product": log P_tt + weight * log P_mix (a product of experts); "sum":
            log((1 - weight) P_tt + weight P_mix) (a mixture of experts, ``weight`` in (0, 1)).
        weight: The mixture's weight in the rule.
        depth: P_tt over the tower's ``depth`` best candidates only (the others get none of its
            mass), as the service reads Milvus (``vector_index.blend``); None: every candidate.
        fresh: ``(I,)`` bool, candidates nobody consumed in training. With "sum" the mixture
            abstains on them: each keeps P_tt(b), the mean over the one expert that can place
            it, while the others get (1 - w) P_tt + w P_mix. The HGNN places a fresh item by
            its text alone, far from every consumed item, so P_mix gives it almost nothing and
            would push it below every item the mixture knows. (The scores then no longer sum to
            one; only their order is read.) None: no such candidates.

    """
    if rule not in ("product", "sum"):
        raise ValueError(f"unknown blend rule {rule!r}: 'product' or 'sum'")
    if rule == "sum" and not 0.0 < weight < 1.0:
        raise ValueError(f"a 'sum' blend needs a weight in (0, 1), got {weight}")
    users, items = tower
    items_t = items.float().T.contiguous()
    known = torch.from_numpy(history)

    def score(start: int, stop: int) -> torch.Tensor:
        logits = (users[start:stop].float() @ items_t) / tower_temperature
        kept = logits
        if depth is not None and depth < logits.shape[1]:
            top = logits.topk(depth, dim=1)
            kept = torch.full_like(logits, float("-inf")).scatter_(1, top.indices, top.values)
        log_tt = torch.log_softmax(kept, dim=1)
        log_mix = mixture(start, stop)
        if rule == "product":
            out = log_tt + weight * log_mix
        else:
            out = torch.logaddexp(log_tt + np.log1p(-weight), log_mix + np.log(weight))
            if fresh is not None:  # the mixture abstains: the tower scores them as if it were alone
                out = torch.where(fresh.unsqueeze(0), log_tt, out)
        rows = ~known[start:stop]
        out[rows] = logits[rows]
        return out

    return score
