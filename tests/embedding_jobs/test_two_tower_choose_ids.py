"""``two_tower.choose_ids``: the validation slice chooses whether the ID vectors are used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

import embedding_jobs.two_tower_fit as two_tower_fit
from embedding_jobs.train_two_tower import export_two_tower, train_two_tower


def _config(tmp_path):
    cfg = build_world(tmp_path)
    tc = cfg.two_tower
    tc.epochs, tc.val_days, tc.val_share, tc.patience = 2, 0, 0.3, 0
    tc.item_ids = tc.history_ids = tc.choose_ids = True
    return cfg


def _vectors(path) -> np.ndarray:
    return np.stack(pd.read_parquet(path)["vector"].to_numpy())


def _train_and_reexport(cfg, version):
    with one_thread():
        result = train_two_tower(cfg, version, HGNN_VERSION, retrieve=pandas_point_in_time)
        state = torch.load(result.checkpoint / "model.pt", weights_only=True)
        users, items = _vectors(result.users_path), _vectors(result.items_path)
        export_two_tower(cfg, version, retrieve=pandas_point_in_time)
    assert np.allclose(_vectors(result.users_path), users, atol=1e-6)
    assert np.allclose(_vectors(result.items_path), items, atol=1e-6)
    return result, state


def test_the_candidate_with_the_higher_validation_recall_is_refitted(tmp_path) -> None:
    result, state = _train_and_reexport(_config(tmp_path), "v20261017t000010_c0ffee")
    with_ids, without = result.metrics["val_recalls_with_ids"], result.metrics["val_recalls_without_ids"]
    chosen = result.metrics["ids_chosen"]
    assert chosen == int(max(with_ids) >= max(without))  # a tie keeps the ID vectors
    assert result.metrics["val_recalls"] == (with_ids if chosen else without)
    assert result.metrics["epochs"] == 1 + int(np.argmax(result.metrics["val_recalls"]))
    assert state["two_tower"]["item_ids"] is bool(chosen)
    # two selection runs of 2 epochs on 70% of the examples, then the refit on all
    n = result.metrics["n_examples"]
    assert result.metrics["trained_examples"] == 2 * 2 * (n - round(0.3 * n)) + n * result.metrics["epochs"]


@pytest.mark.parametrize("better", ["without", "with"])
def test_the_checkpoint_says_which_candidate_won(tmp_path, monkeypatch, better) -> None:
    real_fit = two_tower_fit.fit

    def rigged(model, *args, **kwargs):  # the real training, with recalls that favour one candidate
        losses, recalls = real_fit(model, *args, **kwargs)
        has_ids = model.item_tower.ids is not None
        wins = has_ids == (better == "with")
        return losses, [0.9 if wins else 0.1 for _ in recalls]

    monkeypatch.setattr(two_tower_fit, "fit", rigged)
    result, state = _train_and_reexport(_config(tmp_path), "v20261017t000011_bead00")
    assert result.metrics["ids_chosen"] == int(better == "with")
    has_table = any(k.endswith("ids.weight") for k in state["state_dict"])
    assert has_table is (better == "with")
    assert (state["id_items"] is not None) is (better == "with")
    assert state["two_tower"]["history_ids"] is (better == "with")
    assert (state["spec"]["n_id_items"] > 0) is (better == "with")
