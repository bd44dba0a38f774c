"""HGNN-kNN read over each item's graph partners: the graph picks the candidates, the vectors weigh them.

The served mixture (``baselines.item_mixture`` with ``serve.mixture_depth``) reads each of a
user's items ``h`` as the HGNN's softmax over its ``depth`` nearest items. Rounds 35 and 36
measured that the HGNN ranks an item's co-consumption partners well (as well as their co-user
counts or better on the dense types) but puts much of its mass on items beside them, which
share no edge with ``h``. This reads ``P(b | h)`` as the same softmax over ``h``'s partners in
``fct_item_edges`` alone (renormalised over them, as the served rule renormalises over its
nearest items), and over its ``depth`` nearest items where ``h`` has no partner among the task's
candidates. The user is the mean over their items, as in ``item_mixture``.

It reads the graph when it scores, so it is not the published vectors alone: a served rule built
on it would need each HGNN version's partner lists beside its vectors. A diagnostic for
``benchmarks/blend.py --partners`` until then. It holds a dense (distinct history items x
candidates) matrix: fine for the synthetic catalogues (a few thousand items), about 6 GB on
Yelp2018's 38,048 items, where it was not run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.metrics import ChunkScorer
from embedding_jobs.evaluate.protocol import EvalTask

__all__ = ["partner_lists", "partner_mixture"]


def partner_lists(edges: pd.DataFrame) -> pd.Series:
    """Per item id, the ids it shares an edge with (either direction of ``fct_item_edges``)."""
    src = edges["src_item_id"].to_numpy(dtype=np.int64)
    dst = edges["dst_item_id"].to_numpy(dtype=np.int64)
    pairs = pd.DataFrame({"a": np.r_[src, dst], "b": np.r_[dst, src]}).drop_duplicates()
    return pairs.groupby("a")["b"].apply(np.asarray)


def partner_mixture(
    task: EvalTask,
    vectors: tuple[np.ndarray, np.ndarray],
    consumed: pd.Series,
    popularity: pd.Series,
    temperature: float,
    partners: pd.Series,
    depth: int,
    rows_at_once: int = 1024,
) -> ChunkScorer:
    """log of the mean over the user's items ``h`` of the HGNN's softmax over ``h``'s partners.

    Args:
        task: The ranking task.
        vectors: ``(ids, vectors)`` of every item (the HGNN's).
        consumed: Per user, the items consumed in training.
        popularity: Training-window consumers per item (users with no items are ranked by it).
        temperature: The softmax temperature the vectors were trained at.
        partners: ``partner_lists`` of the graph the HGNN was trained on.
        depth: Nearest candidates read for an item with no partner among the task's candidates.
        rows_at_once: Distinct history items scored at once (bounds memory).

    """
    ids, vecs = vectors
    unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    norm = torch.from_numpy(unit.astype(np.float32))
    row_of = pd.Series(np.arange(len(ids)), index=ids)
    # each user's consumed items with a vector (weak signals are not read, as served)
    histories = [
        row_of.reindex(consumed.get(user, [])).dropna().to_numpy(dtype=np.int64)
        for user in task.user_ids.tolist()
    ]
    at = row_of.reindex(task.item_ids)
    cands = torch.zeros(len(task.item_ids), vecs.shape[1])
    found = at.notna().to_numpy()
    cands[torch.from_numpy(found)] = norm[torch.from_numpy(at[found].to_numpy(dtype=np.int64))]
    column = pd.Series(np.arange(len(task.item_ids)), index=task.item_ids)
    own = torch.from_numpy(column.reindex(ids).fillna(-1).to_numpy(dtype=np.int64))
    distinct = np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *histories]))
    probs = np.zeros((len(distinct), len(task.item_ids)), dtype=np.float32)
    for lo in range(0, len(distinct), rows_at_once):
        rows = torch.from_numpy(distinct[lo : lo + rows_at_once])
        logits = (norm[rows] @ cands.T) / temperature
        mine = own[rows]
        logits[torch.nonzero(mine >= 0).squeeze(1), mine[mine >= 0]] = float("-inf")
        allowed = torch.zeros_like(logits, dtype=torch.bool)
        for r, item in enumerate(ids[rows.numpy()]):
            mates = partners.get(item)
            if mates is not None:
                cols = column.reindex(mates).dropna().to_numpy(dtype=np.int64)
                allowed[r, torch.from_numpy(cols)] = True
        allowed &= torch.isfinite(logits)
        none = ~allowed.any(dim=1)
        if none.any():  # no partner among the candidates: the item's nearest, as served
            top = logits[none].topk(min(depth, logits.shape[1]), dim=1).indices
            allowed[none] = torch.zeros_like(allowed[none]).scatter_(1, top, True)
        masked = logits.masked_fill(~allowed, float("-inf"))
        probs[lo : lo + len(rows)] = torch.nan_to_num(torch.softmax(masked, dim=1), nan=0.0).numpy()
    where = pd.Series(np.arange(len(distinct)), index=distinct)
    sizes = np.array([len(h) for h in histories], dtype=np.int64)
    owner = np.repeat(np.arange(len(histories)), sizes)
    at = where.reindex(np.concatenate([np.zeros(0, dtype=np.int64), *histories])).to_numpy(dtype=np.int64)
    users = sp.csr_matrix(
        (np.ones(len(at), dtype=np.float32), (owner, at)), shape=(len(histories), len(distinct))
    )
    pop = baselines.pop_column(task, popularity).squeeze(1)

    def score(start: int, stop: int) -> torch.Tensor:
        acc = torch.from_numpy(np.asarray(users[start:stop] @ probs, dtype=np.float32))
        n = torch.from_numpy(sizes[start:stop])
        out = torch.log(acc.clamp_min(1e-30) / n.clamp_min(1).unsqueeze(1))
        out[n == 0] = pop
        return out

    return score
