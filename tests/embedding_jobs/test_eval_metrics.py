"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from embedding_jobs.evaluate import metrics
from embedding_jobs.evaluate.metrics import Pairs

# one user, five items scored 5 > 4 > 3 > 2 > 1 (item column i has score 5 - i)
ITEMS = torch.tensor([[5.0], [4.0], [3.0], [2.0], [1.0]])
USER = torch.ones(1, 1)


def _rank(relevant: list[int], excluded: list[int], depth: int = 5) -> metrics.Ranking:
    rel = Pairs.build(np.zeros(len(relevant)), np.array(relevant))
    exc = Pairs.build(np.zeros(len(excluded)), np.array(excluded))
    return metrics.rank(USER, ITEMS, rel, exc, depth)


def test_hit_rate_and_reciprocal_rank_of_a_single_user():
    ranking = _rank(relevant=[2, 4], excluded=[])
    assert ranking.topk.tolist() == [[0, 1, 2, 3, 4]]
    assert metrics.hit_rate(ranking.hits, 2).item() == 0.0  # relevant items sit at ranks 3 and 5
    assert metrics.hit_rate(ranking.hits, 3).item() == 1.0
    assert metrics.reciprocal_rank(ranking.hits).item() == pytest.approx(1 / 3)


def test_excluded_items_are_removed_from_the_ranking():
    ranking = _rank(relevant=[2], excluded=[0, 1])
    assert ranking.topk[0, :3].tolist() == [2, 3, 4]
    assert ranking.topk[0, 3:].tolist() == [-1, -1]  # only excluded items were left
    assert metrics.reciprocal_rank(ranking.hits).item() == 1.0


def test_recall_and_ndcg_follow_lightgcn():
    # relevant {1, 3, 4}; top-2 = [0, 1]: one hit at rank 2
    ranking = _rank(relevant=[1, 3, 4], excluded=[])
    assert metrics.recall(ranking.hits, ranking.n_relevant, 2).item() == pytest.approx(1 / 3)
    dcg = 1 / math.log2(3)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)  # min(|test|=3, k=2) = 2 ideal hits
    assert metrics.ndcg(ranking.hits, ranking.n_relevant, 2).item() == pytest.approx(dcg / idcg)
    # at k=5 all three are found at ranks 2, 4, 5
    dcg5 = 1 / math.log2(3) + 1 / math.log2(5) + 1 / math.log2(6)
    idcg5 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg(ranking.hits, ranking.n_relevant, 5).item() == pytest.approx(dcg5 / idcg5)
    assert metrics.recall(ranking.hits, ranking.n_relevant, 5).item() == 1.0


def test_no_hit_gives_zero_reciprocal_rank_and_ndcg():
    ranking = _rank(relevant=[4], excluded=[], depth=3)
    assert metrics.reciprocal_rank(ranking.hits).item() == 0.0
    assert metrics.ndcg(ranking.hits, ranking.n_relevant, 3).item() == 0.0


def test_coverage_counts_distinct_items_in_anybodys_ranking():
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    items = torch.tensor([[1.0, 0.0], [0.9, 0.0], [0.0, 1.0], [0.0, 0.9], [0.0, 0.0]])
    empty = Pairs.build(np.array([]), np.array([]))
    ranking = metrics.rank(users, items, empty, empty, depth=2, chunk=2)  # chunks must agree
    assert ranking.topk.tolist() == [[0, 1], [2, 3], [0, 1]]
    assert metrics.coverage(ranking.topk, 5) == pytest.approx(4 / 5)
