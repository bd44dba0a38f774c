"""The two-tower's softmax blended with the HGNN's item mixture (``baselines.blend``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from embedding_jobs.checkpoint import two_tower_temperature
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import build_tasks
from gfm.config import Config
from gfm.naming import checkpoint_dir


def _setup(seed: int = 3):
    rng = np.random.default_rng(seed)
    ids = np.arange(100, 110)
    items = pd.DataFrame({"item_id": ids, "content_type": "podcast"})
    histories = {1: [101, 104], 2: [107], 3: [100, 102, 103]}
    log = pd.DataFrame(
        [(u, i, True) for u, mine in histories.items() for i in mine],
        columns=["user_id", "item_id", "is_consumed"],
    )
    evals = pd.DataFrame(
        {"user_id": [1, 2, 3, 4], "item_id": [105, 105, 106, 108], "content_type": "podcast"}
    )
    task = build_tasks(items, log, evals)[0]
    consumed, weak = baselines.user_item_lists(log)
    pop = baselines.item_popularity(log)
    hgnn = (ids, rng.normal(size=(10, 6)).astype(np.float32))
    users = (np.array([1, 2, 3, 4]), rng.normal(size=(4, 5)).astype(np.float32))
    tower_items = (ids, rng.normal(size=(10, 5)).astype(np.float32))
    tower = baselines.two_tower(task, users, tower_items, pop)
    mixture = baselines.item_mixture(task, hgnn, consumed, weak, pop, temperature=0.1)
    history = baselines.has_history(task, hgnn, consumed, weak)
    return task, tower, mixture, history


def test_each_rule_is_its_formula_over_the_two_distributions():
    task, tower, mixture, history = _setup()
    n = len(task.user_ids)
    assert history.tolist() == [True, True, True, False]  # user 4 consumed nothing in training
    log_tt = torch.log_softmax((tower[0] @ tower[1].T).double() / 0.07, dim=1)
    log_mix = mixture(0, n).double()
    product = baselines.blend(tower, 0.07, mixture, history, "product", 0.5)(0, n)
    summed = baselines.blend(tower, 0.07, mixture, history, "sum", 0.25)(0, n)
    for row in range(3):
        expected = log_tt[row] + 0.5 * log_mix[row]
        torch.testing.assert_close(product[row].double(), expected, rtol=1e-5, atol=1e-4)
        expected = torch.log(0.75 * torch.exp(log_tt[row]) + 0.25 * torch.exp(log_mix[row]))
        torch.testing.assert_close(summed[row].double(), expected, rtol=1e-5, atol=1e-4)


def test_a_user_without_history_is_ranked_by_the_tower_alone():
    task, tower, mixture, history = _setup()
    n = len(task.user_ids)
    logits = (tower[0] @ tower[1].T) / 0.07
    for rule, weight in (("product", 1.0), ("sum", 0.5)):
        got = baselines.blend(tower, 0.07, mixture, history, rule, weight)(0, n)
        torch.testing.assert_close(got[3], logits[3])


def test_a_weight_of_zero_ranks_as_the_tower_does():
    task, tower, mixture, history = _setup(7)
    n = len(task.user_ids)
    got = baselines.blend(tower, 0.07, mixture, history, "product", 0.0)(0, n)
    assert torch.equal(got.argsort(dim=1), (tower[0] @ tower[1].T).argsort(dim=1))


@pytest.mark.parametrize(("rule", "weight"), [("average", 0.5), ("sum", 0.0), ("sum", 1.0)])
def test_a_bad_rule_or_weight_is_refused(rule, weight):
    _, tower, mixture, history = _setup()
    with pytest.raises(ValueError, match="blend"):
        baselines.blend(tower, 0.07, mixture, history, rule, weight)


def test_the_tower_temperature_comes_from_the_versions_card(tmp_path):
    cfg = Config.load(data_dir=tmp_path)
    folder = checkpoint_dir(cfg.models_dir, "two_tower", "v20261206t120000_abcdef")
    folder.mkdir(parents=True)
    card = {"model": "two_tower", "version": "v20261206t120000_abcdef", "data_fingerprint": "x"}
    card["config"] = {"two_tower": {"temperature": 0.2}}
    (folder / "card.json").write_text(json.dumps(card))
    assert two_tower_temperature(cfg, "v20261206t120000_abcdef") == 0.2
    assert two_tower_temperature(cfg, "v20261206t120001_abcdef") == cfg.two_tower.temperature


def test_the_mixture_abstains_on_fresh_items():
    """A fresh item keeps the tower's probability; the others get (1 - w) P_tt + w P_mix."""
    task, tower, mixture, history = _setup(5)
    n = len(task.user_ids)
    fresh = torch.zeros(len(task.item_ids), dtype=torch.bool)
    fresh[[2, 6, 9]] = True
    got = baselines.blend(tower, 0.07, mixture, history, "sum", 0.25, fresh=fresh)(0, n)
    log_tt = torch.log_softmax((tower[0] @ tower[1].T).double() / 0.07, dim=1)
    log_mix = mixture(0, n).double()
    for row in range(3):
        mixed = torch.log(0.75 * torch.exp(log_tt[row]) + 0.25 * torch.exp(log_mix[row]))
        expected = torch.where(fresh, log_tt[row], mixed)
        torch.testing.assert_close(got[row].double(), expected, rtol=1e-5, atol=1e-4)
    # the other items are scored as by the plain mixture
    plain = baselines.blend(tower, 0.07, mixture, history, "sum", 0.25)(0, n)
    assert torch.equal(got[:3, ~fresh], plain[:3, ~fresh]) and not torch.equal(got[:3], plain[:3])
