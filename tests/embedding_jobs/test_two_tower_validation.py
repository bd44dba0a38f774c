"""The validation ranking that chooses the two-tower epoch count, against a brute-force count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from embedding_jobs.data.interactions import Catalogue
from embedding_jobs.two_tower_validation import Validation, hits_at_k, window_hit_rate


def _brute(users, items, types, targets, excluded, k):
    hits = 0
    for r in range(len(users)):
        scores = {
            i: float(users[r] @ items[i])
            for i in range(len(items))
            if types[i] == types[targets[r]] and (r, i) not in excluded
        }
        better = sum(1 for i, v in scores.items() if v > scores[targets[r]])
        hits += better < k
    return hits


def test_hits_match_a_brute_force_ranking_within_type_and_without_excluded_items() -> None:
    g = torch.Generator().manual_seed(0)
    users, items = torch.randn(40, 8, generator=g), torch.randn(30, 8, generator=g)
    types = torch.randint(0, 2, (30,), generator=g)
    targets = torch.randint(0, 30, (40,), generator=g)
    rng = np.random.default_rng(0)
    pairs = {
        (int(r), int(i)) for r, i in zip(rng.integers(0, 40, 120), rng.integers(0, 30, 120), strict=True)
    }
    pairs = {(r, i) for r, i in pairs if i != int(targets[r])}
    excluded = torch.tensor(sorted(pairs)).T
    for k in (1, 3, 10):
        expected = _brute(users, items, types.tolist(), targets.tolist(), pairs, k)
        assert hits_at_k(users, items, types, targets, excluded, k, chunk=7) == expected
    # excluding every better-scoring item of the same type makes every row a hit at k=1
    better = {
        (r, i)
        for r in range(40)
        for i in range(30)
        if types[i] == types[targets[r]] and float(users[r] @ items[i]) > float(users[r] @ items[targets[r]])
    }
    assert hits_at_k(users, items, types, targets, torch.tensor(sorted(better)).T, 1) == 40


def test_exclusions_pair_each_slice_row_with_the_users_earlier_items() -> None:
    cat = Catalogue(
        item_ids=np.array([10, 20, 30]),
        type_idx=torch.zeros(3, dtype=torch.long),
        text=torch.zeros(3, 1),
        hgnn=torch.zeros(3, 0),
        history=torch.zeros(3, 1),
    )
    consumed = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [20, 30, 10], "at": [5, 8, 1]})
    pairs = Validation.exclusions(pd.Series([2, 1, 3]), np.array([9, 9, 9]), consumed, cat)
    assert sorted(map(tuple, pairs.T.tolist())) == [(0, 0), (1, 1), (1, 2)]
    # only what was consumed strictly before each row's moment: user 1's item 30 came at 8
    pairs = Validation.exclusions(pd.Series([1, 1]), np.array([8, 5]), consumed, cat)
    assert sorted(map(tuple, pairs.T.tolist())) == [(0, 1)]
    # a random slice: every other item of the user, earlier or later, but never the row's own
    never = np.full(2, np.iinfo(np.int64).max)
    pairs = Validation.exclusions(pd.Series([1, 1]), never, consumed, cat, own=np.array([20, 30]))
    assert sorted(map(tuple, pairs.T.tolist())) == [(0, 2), (1, 1)]


def _brute_window(users, items, types, targets, excluded, k):
    cells: dict[tuple[int, int], bool] = {}
    for u, i in targets:
        ranked = sorted(
            (j for j in range(len(items)) if types[j] == types[i] and (u, j) not in excluded),
            key=lambda j: -float(users[u] @ items[j]),
        )
        cells[(u, types[i])] = cells.get((u, types[i]), False) or i in ranked[:k]
    return sum(cells.values()) / len(cells)


def test_window_hit_rate_counts_user_type_cells_as_the_evaluation_does() -> None:
    g = torch.Generator().manual_seed(1)
    users, items = torch.randn(25, 6, generator=g), torch.randn(40, 6, generator=g)
    types = torch.randint(0, 3, (40,), generator=g)
    rng = np.random.default_rng(1)
    pairs = sorted(
        {(int(u), int(i)) for u, i in zip(rng.integers(0, 25, 60), rng.integers(0, 40, 60), strict=True)}
    )
    targets, excluded = pairs[::2], set(pairs[1::2]) - set(pairs[::2])
    t = torch.tensor(targets).T
    e = torch.tensor(sorted(excluded)).T
    for k in (1, 3, 5):
        expected = _brute_window(users, items, types.tolist(), targets, excluded, k)
        assert window_hit_rate(users, items, types, t, e, k, chunk=4) == pytest.approx(expected)
    # a user with two targets of one type is one cell, hit when either is in the top k
    user, catalogue = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    one_type, none = torch.zeros(3, dtype=torch.long), torch.zeros((2, 0), dtype=torch.long)
    assert window_hit_rate(user, catalogue, one_type, torch.tensor([[0, 0], [0, 1]]), none, 1) == 1.0
    assert window_hit_rate(user, catalogue, one_type, torch.tensor([[0, 0], [1, 2]]), none, 1) == 0.0
    # leaving out the best item lets the next one in
    assert (
        window_hit_rate(user, catalogue, one_type, torch.tensor([[0], [2]]), torch.tensor([[0], [0]]), 1)
        == 1.0
    )
