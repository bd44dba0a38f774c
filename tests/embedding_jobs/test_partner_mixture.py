"""The HGNN's softmax read over each item's graph partners (``benchmarks/partner_mixture.py``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from benchmarks.partner_mixture import partner_lists, partner_mixture
from embedding_jobs.evaluate import baselines
from tests.fixtures.one_type_task import one_type_task


def _brute_force(vecs, ids, history, partners, t, depth):
    """log(mean over h of the softmax of cos(h, .) / t over h's partners, or its depth nearest if none)."""
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    row = {int(i): r for r, i in enumerate(ids)}
    total = np.zeros(len(ids))
    for h in history:
        cos = {int(k): float(unit[row[h]] @ unit[row[int(k)]]) for k in ids if k != h}
        support = [k for k in partners.get(h, []) if k != h]
        if not support:
            support = sorted(cos, key=lambda k: -cos[k])[:depth]
        z = sum(math.exp(cos[k] / t) for k in support)
        for k in support:
            total[row[k]] += math.exp(cos[k] / t) / z
    return [math.log(max(x, 1e-30) / len(history)) for x in total]  # the floor before the mean, as scored


def test_partner_mixture_matches_a_brute_force_sum():
    rng = np.random.default_rng(7)
    ids = np.arange(100, 109)
    vecs = rng.normal(size=(9, 4)).astype(np.float32)
    edges = pd.DataFrame({"src_item_id": [100, 101, 102, 104], "dst_item_id": [101, 103, 105, 100]})
    partners = partner_lists(edges)
    assert sorted(partners[100].tolist()) == [101, 104]  # both directions of an edge
    # 106 has no partner: its three nearest items stand in
    histories = {1: [100, 106], 2: [103], 3: [102, 104, 106]}
    task, consumed, _, pop = one_type_task(9, histories)
    lists = {int(k): [int(x) for x in v] for k, v in partners.items()}
    for t in (0.05, 0.5):
        got = partner_mixture(task, (ids, vecs), consumed, pop, t, partners, depth=3, rows_at_once=2)
        scores = got(0, len(task.user_ids))
        for r, user in enumerate(task.user_ids.tolist()):
            expected = torch.tensor(
                _brute_force(vecs, ids, histories[user], lists, t, 3), dtype=torch.float32
            )
            torch.testing.assert_close(scores[r], expected, rtol=1e-4, atol=1e-4)


def test_an_item_off_the_graph_gets_no_mass_from_a_partnered_history():
    """What the nearest-items reading gives a look-alike with no edge, the partner reading does not."""
    ids = np.arange(100, 104)
    vecs = np.array([[1.0, 0.0], [0.0, 1.0], [0.99, 0.14], [0.7, 0.7]], dtype=np.float32)
    edges = pd.DataFrame({"src_item_id": [100], "dst_item_id": [101]})
    task, consumed, _, pop = one_type_task(4, {1: [100]})
    near = baselines.item_mixture(task, (ids, vecs), consumed, pd.Series(dtype=object), pop, 0.05)(0, 1)[0]
    mates = partner_mixture(task, (ids, vecs), consumed, pop, 0.05, partner_lists(edges), depth=2)(0, 1)[0]
    assert near[2] > near[1]  # the look-alike beats the partner when every item is read
    assert mates[1] > mates[2] and mates[1] == 0.0  # all of 100's mass on its one partner
