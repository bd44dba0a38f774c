"""The collaborative-filtering peers: item-kNN against a brute-force count, LightGCN on a toy graph."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from tt_fixtures import one_thread

from embedding_jobs.evaluate import baselines, metrics
from embedding_jobs.evaluate.lightgcn import train_lightgcn
from embedding_jobs.evaluate.metrics import Pairs
from embedding_jobs.evaluate.peers import ItemKNN, item_cosine, lightgcn_scores
from embedding_jobs.evaluate.protocol import build_tasks, score
from gfm.config import EvaluateConfig


def _toy_log(seed: int = 3, users: int = 14, items: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (u, 100 + i, bool(rng.random() < 0.8))
        for u in range(1, users + 1)
        for i in rng.choice(items, size=int(rng.integers(1, 6)), replace=False)
    ]
    # a repeated consumption row counts once
    rows.append((rows[0][0], rows[0][1], True))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "is_consumed"])


def _brute_force(log: pd.DataFrame, item_ids: list[int]) -> dict[tuple[int, int], float]:
    """score(u, i) = sum over u's items j != i of |C_j ∩ C_i| / sqrt(|C_j| |C_i|), by counting."""
    consumed = log.loc[log["is_consumed"]]
    consumers = {i: set(consumed.loc[consumed["item_id"] == i, "user_id"]) for i in item_ids}
    out = {}
    for user, frame in consumed.groupby("user_id"):
        mine = set(frame["item_id"])
        for i in item_ids:
            total = 0.0
            for j in mine - {i}:
                both = len(consumers[i] & consumers[j])
                if both:
                    total += both / math.sqrt(len(consumers[i]) * len(consumers[j]))
            out[(int(user), i)] = total
    return out


def test_item_cosine_counts_shared_consumers():
    # items 0 and 1 share users 0 and 1; item 2 has only user 2; the (0, 0) pair is repeated
    sim = item_cosine(np.array([0, 0, 1, 1, 2, 0]), np.array([0, 1, 0, 1, 2, 0]), 3, 3).toarray()
    assert sim[0, 1] == pytest.approx(2 / math.sqrt(2 * 2))
    assert sim[0, 0] == 0.0 and sim[2].sum() == 0.0
    np.testing.assert_allclose(sim, sim.T)
    with pytest.raises(ValueError, match="item index out of range"):
        item_cosine(np.array([0]), np.array([5]), 1, 3)


def test_item_knn_matches_a_brute_force_count():
    log = _toy_log()
    item_ids = list(range(100, 110))
    items = pd.DataFrame({"item_id": item_ids, "content_type": "podcast"})
    # every user with a consumption is evaluated on one item, plus a user with no history at all
    evals = pd.DataFrame({"user_id": [*range(1, 15), 99], "item_id": 109, "content_type": "podcast"})
    task = build_tasks(items, log, evals)[0]
    pop = baselines.item_popularity(log)
    knn = ItemKNN.fit(log, np.array(item_ids))
    scores = knn.scorer(task, pop)(0, len(task.user_ids)).numpy()
    expected = _brute_force(log, item_ids)
    tie = 1e-6 * baselines.pop_column(task, pop).squeeze(1).numpy()
    checked = 0
    for row, user in enumerate(task.user_ids.tolist()):
        if any(u == user for u, _ in expected):
            want = np.array([expected[(user, i)] for i in item_ids])
            np.testing.assert_allclose(scores[row] - tie, want, rtol=1e-5, atol=1e-6)
            checked += 1
        else:  # no training consumption: exactly the popularity ranking
            np.testing.assert_allclose(scores[row], baselines.pop_column(task, pop).squeeze(1).numpy())
    assert checked >= 10 and 99 in task.user_ids


def test_the_chunked_scorer_ranks_like_the_dense_path():
    log = _toy_log(seed=5, users=30, items=12)
    item_ids = np.arange(100, 112)
    items = pd.DataFrame({"item_id": item_ids, "content_type": "podcast"})
    rng = np.random.default_rng(0)
    evals = pd.DataFrame(
        {"user_id": np.arange(1, 31), "item_id": rng.choice(item_ids, 30), "content_type": "podcast"}
    )
    task = build_tasks(items, log, evals)[0]
    scorer = ItemKNN.fit(log, item_ids).scorer(task, baselines.item_popularity(log))
    dense = scorer(0, len(task.user_ids))
    by_chunks = metrics.rank_chunks(
        scorer, len(task.user_ids), len(item_ids), task.relevant, task.excluded, depth=12, chunk=7
    )
    by_dot = metrics.rank(dense, torch.eye(len(item_ids)), task.relevant, task.excluded, depth=12)
    assert torch.equal(by_chunks.topk, by_dot.topk)
    assert torch.equal(by_chunks.hits, by_dot.hits)
    cfg = EvaluateConfig(k=3, coverage_k=12, recall_k=5)
    assert score(task, scorer, cfg) == score(task, (dense, torch.eye(len(item_ids))), cfg)


def test_a_scorer_of_the_wrong_shape_is_refused():
    empty = Pairs.build(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="scorer returned a"):
        metrics.rank_chunks(lambda a, b: torch.zeros(b - a, 3), 2, 4, empty, empty, depth=2)


def _communities() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two taste communities; the big one makes popularity point at its items for everybody."""
    rng = np.random.default_rng(0)
    items = pd.DataFrame({"item_id": np.arange(40), "content_type": "podcast"})
    train, evals = [], []
    for user in range(120):
        small = user < 40  # users 0-39 like items 0-19, users 40-119 items 20-39
        own = np.arange(20) if small else np.arange(20, 40)
        picks = rng.choice(own, size=8, replace=False)
        train += [(user, int(i), True) for i in picks[:6]]
        evals += [(user, int(i), "podcast") for i in picks[6:]]
    return (
        items,
        pd.DataFrame(train, columns=["user_id", "item_id", "is_consumed"]),
        pd.DataFrame(evals, columns=["user_id", "item_id", "content_type"]),
    )


def test_lightgcn_loss_falls_and_it_beats_popularity_on_clear_communities():
    items, train, evals = _communities()
    cfg = EvaluateConfig(
        lightgcn_epochs=40, lightgcn_batch_size=128, lightgcn_lr=0.01, lightgcn_dim=16, device="cpu", seed=1
    )
    with one_thread():  # many tiny steps: a second thread only adds synchronisation
        result = train_lightgcn(train, items["item_id"].to_numpy(), cfg)
        again = train_lightgcn(train, items["item_id"].to_numpy(), cfg)
    assert len(result.losses) == 40 and result.losses[-1] < 0.6 * result.losses[0]
    assert result.user_vecs.shape == (120, 16) and result.item_vecs.shape == (40, 16)
    task = build_tasks(items, train, evals)[0]
    pop = baselines.item_popularity(train)
    eval_cfg = EvaluateConfig(k=5)
    light = score(task, lightgcn_scores(task, result, pop), eval_cfg)
    popular = score(task, baselines.popularity(task, pop), eval_cfg)
    # popularity serves the big community's items to the small one; LightGCN does not
    assert light["hr@5"] > popular["hr@5"] + 0.15
    np.testing.assert_array_equal(again.item_vecs, result.item_vecs)  # seeded


def test_lightgcn_serves_popularity_to_users_without_a_node():
    items, train, evals = _communities()
    evals = pd.concat([evals, pd.DataFrame({"user_id": [500], "item_id": [25], "content_type": ["podcast"]})])
    cfg = EvaluateConfig(lightgcn_epochs=1, lightgcn_dim=8, device="cpu")
    with one_thread():
        result = train_lightgcn(train, items["item_id"].to_numpy(), cfg)
    task = build_tasks(items, train, evals)[0]
    pop = baselines.item_popularity(train)
    users, item_vecs = lightgcn_scores(task, result, pop)
    newcomer = (users @ item_vecs.T)[list(task.user_ids).index(500)]
    popular = (baselines.popularity(task, pop)[0] @ baselines.popularity(task, pop)[1].T)[0]
    assert torch.equal(torch.argsort(newcomer), torch.argsort(popular))
