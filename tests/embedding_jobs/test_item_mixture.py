"""HGNN-kNN's readout: a mixture of the user's items' softmax neighbourhoods (``baselines.item_mixture``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from embedding_jobs.checkpoint import hgnn_temperature
from embedding_jobs.evaluate import baselines
from gfm.config import Config
from gfm.naming import checkpoint_dir
from tests.fixtures.one_type_task import one_type_task


def _brute_force(vecs: np.ndarray, ids: np.ndarray, history: list[int], t: float) -> list[float]:
    """log(mean over h of exp(cos(h, j) / t) / sum over candidates k != h of exp(cos(h, k) / t))."""
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    row = {int(i): r for r, i in enumerate(ids)}
    out = []
    for j in range(len(ids)):
        total = 0.0
        for h in history:
            hv = unit[row[h]]
            z = sum(math.exp(float(hv @ unit[k]) / t) for k in range(len(ids)) if k != row[h])
            total += 0.0 if j == row[h] else math.exp(float(hv @ unit[j]) / t) / z
        out.append(math.log(max(total / len(history), 1e-30)))
    return out


def test_the_mixture_matches_a_brute_force_sum():
    rng = np.random.default_rng(4)
    ids = np.arange(100, 108)
    vecs = rng.normal(size=(8, 5)).astype(np.float32)
    histories = {1: [101, 104], 2: [107], 3: [100, 102, 103, 105]}
    task, consumed, weak, pop = one_type_task(8, histories)
    for t in (0.05, 0.5):
        scorer = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, temperature=t, rows_at_once=3)
        got = scorer(0, len(task.user_ids))
        for row, user in enumerate(task.user_ids.tolist()):
            expected = torch.tensor(_brute_force(vecs, ids, histories[user], t))
            torch.testing.assert_close(got[row], expected, rtol=1e-4, atol=1e-4)


def test_a_user_of_two_tastes_is_served_both_not_their_centre():
    """The mean of two far-apart items points at what lies between them; the mixture at each taste."""
    ids = np.arange(100, 105)
    vecs = np.array(
        [
            [1.0, 0.0, 0.0],  # 100: taste A, consumed
            [0.97, 0.0, 0.24],  # 101: taste A, near 100
            [0.0, 1.0, 0.0],  # 102: taste B, consumed
            [0.0, 0.97, 0.24],  # 103: taste B, near 102
            [0.72, 0.69, 0.0],  # 104: halfway between the tastes, near neither
        ],
        dtype=np.float32,
    )
    task, consumed, weak, pop = one_type_task(5, {1: [100, 102]})
    mean_users, mean_items = baselines.mean_vector(task, (ids, vecs), consumed, weak, pop)
    by_mean = (mean_users @ mean_items.T)[0]
    mixture = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, temperature=0.05)(0, 1)[0]
    assert by_mean[4] > max(by_mean[1], by_mean[3])  # the centre wins under the mean
    assert min(mixture[1], mixture[3]) > mixture[4]  # each taste's neighbour wins under the mixture


def test_a_user_without_items_gets_popularity():
    ids = np.arange(100, 104)
    vecs = np.eye(4, dtype=np.float32)
    task, _, weak, pop = one_type_task(4, {1: [101], 2: [101, 102], 3: [102]})
    scorer = baselines.item_mixture(task, (ids, vecs), pd.Series(dtype=object), weak, pop, temperature=0.05)
    got = scorer(0, len(task.user_ids))
    expected = baselines.pop_column(task, pop).squeeze(1)
    for row in range(len(task.user_ids)):
        assert torch.equal(got[row], expected)


@pytest.mark.parametrize(("loss", "expected"), [("softmax", 0.07), ("margin", None)])
def test_the_readout_follows_the_versions_card(tmp_path, loss, expected):
    cfg = Config.load(data_dir=tmp_path)
    folder = checkpoint_dir(cfg.models_dir, "hgnn", "v20261206t120000_abcdef")
    folder.mkdir(parents=True)
    card = {"model": "hgnn", "version": "v20261206t120000_abcdef", "data_fingerprint": "x"}
    card["config"] = {"hgnn": {"loss": loss, "temperature": 0.07}}
    (folder / "card.json").write_text(json.dumps(card))
    assert hgnn_temperature(cfg, "v20261206t120000_abcdef") == expected
    # a version without a card is read with the config's settings
    assert hgnn_temperature(cfg, "v20261206t120001_abcdef") == cfg.hgnn.temperature


def test_a_depth_keeps_each_items_nearest_candidates_only():
    """As the service reads Milvus: depth 1 puts each item's whole mass on its nearest other item."""
    rng = np.random.default_rng(9)
    ids = np.arange(100, 110)
    vecs = rng.normal(size=(10, 4)).astype(np.float32)
    histories = {1: [101, 105], 2: [103]}
    task, consumed, weak, pop = one_type_task(10, histories)
    exact = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, temperature=0.1)(0, 2)
    full = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, temperature=0.1, depth=10)(0, 2)
    torch.testing.assert_close(full, exact)
    nearest = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, temperature=0.1, depth=1)(0, 2)
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    for row, user in enumerate(task.user_ids.tolist()):
        expected = np.zeros(10)
        for h in histories[user]:
            sims = unit @ unit[h - 100]
            sims[h - 100] = -np.inf
            expected[int(np.argmax(sims))] += 1.0 / len(histories[user])
        got = torch.exp(nearest[row]).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_each_items_nearest_are_computed_once_and_summed_per_user():
    """A depth between 1 and the candidates: each item's softmax over its ``depth`` nearest, users' means.

    Users share history items, and a user consumed one item twice (it counts twice, as a term of
    the mean); the per-item neighbourhoods computed once must give every user's brute-force sum.
    """
    rng = np.random.default_rng(11)
    ids = np.arange(100, 112)
    vecs = rng.normal(size=(12, 4)).astype(np.float32)
    histories = {1: [101, 105, 107], 2: [105, 103], 3: [110], 4: [101, 101, 103]}
    task, consumed, weak, pop = one_type_task(12, histories)
    t, depth = 0.2, 4
    for rows_at_once in (2, 64):
        scorer = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, t, depth, rows_at_once)
        got = torch.exp(scorer(1, len(task.user_ids))).numpy()  # a chunk that starts past row 0
        unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        for row, user in enumerate(task.user_ids.tolist()[1:]):
            expected = np.zeros(12)
            for h in histories[user]:
                logits = unit @ unit[h - 100] / t
                logits[h - 100] = -np.inf
                kept = np.argsort(-logits)[:depth]
                p = np.exp(logits[kept] - logits[kept].max())
                expected[kept] += p / p.sum() / len(histories[user])
            np.testing.assert_allclose(got[row], np.maximum(expected, 1e-30), rtol=1e-5, atol=1e-7)
