"""``two_tower.choose_ids``: the validation slice chooses whether the ID vectors are used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time, selection_and_refit

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
    chosen, margin = result.metrics["ids_chosen"], result.metrics["ids_margin"]
    p, n = max(without), result.metrics["n_val_examples"]
    assert margin == pytest.approx(2 * np.sqrt(p * (1 - p) / n))  # two standard errors of the slice
    assert chosen == int(max(with_ids) > max(without) + margin)
    assert result.metrics["val_recalls"] == (with_ids if chosen else without)
    assert result.metrics["epochs"] == 1 + int(np.argmax(result.metrics["val_recalls"]))
    assert state["two_tower"]["item_ids"] is bool(chosen)
    # two selection runs of 2 epochs on 70% of the examples, then the refit on all
    n = result.metrics["n_examples"]
    assert result.metrics["trained_examples"] == 2 * 2 * (n - round(0.3 * n)) + n * result.metrics["epochs"]


@pytest.mark.parametrize(
    ("better", "recalls"), [("without", (0.1, 0.9)), ("with", (0.9, 0.1)), ("without", (0.31, 0.3))]
)
def test_the_checkpoint_says_which_candidate_won(tmp_path, monkeypatch, better, recalls) -> None:
    """A win by less than two standard errors of the slice's recall (.31 against .30) keeps no IDs."""
    real_fit = two_tower_fit.fit

    def rigged(model, inputs, *args, **kwargs):  # the real training, recalls favouring one candidate
        has_ids = model.item_tower.ids is not None
        assert inputs.history_ids is has_ids  # no history ID bags are built for a model without IDs
        assert inputs.history_as_of is not has_ids  # the candidate without IDs reads them as of
        losses, real = real_fit(model, inputs, *args, **kwargs)
        return losses, [recalls[0] if has_ids else recalls[1] for _ in real]

    monkeypatch.setattr(two_tower_fit, "fit", rigged)
    cfg = _config(tmp_path)
    cfg.two_tower.history_as_of = False  # the candidate with ID vectors reads whole-window histories
    result, state = _train_and_reexport(cfg, "v20261017t000011_bead00")
    assert result.metrics["ids_chosen"] == int(better == "with")
    assert state["two_tower"]["history_as_of"] is (better == "without")
    has_table = any(k.endswith("ids.weight") for k in state["state_dict"])
    assert has_table is (better == "with")
    assert (state["id_items"] is not None) is (better == "with")
    assert state["two_tower"]["history_ids"] is (better == "with")
    assert (state["spec"]["n_id_items"] > 0) is (better == "with")


@pytest.mark.parametrize("as_of", [True, False])
def test_the_selection_runs_never_see_a_held_out_pair_in_a_history(tmp_path, monkeypatch, as_of) -> None:
    from embedding_jobs.data.histories import NEVER

    cfg = _config(tmp_path)
    cfg.two_tower.history_as_of, cfg.two_tower.choose_ids = as_of, False
    chosen_on, rows, val, refit_on = selection_and_refit(
        cfg, "v20261017t000012_5ec1ed", HGNN_VERSION, monkeypatch
    )
    assert val.hist is chosen_on.hist
    users = torch.arange(len(chosen_on.hist.user_ids))

    def pairs(hist) -> set[tuple[int, int]]:
        items, counts = hist.consumed_items(users, torch.full((len(users),), NEVER), cap=10_000)
        return set(zip(np.repeat(users.numpy(), counts).tolist(), items.tolist(), strict=True))

    held = set(zip(rows.users[val.rows].tolist(), rows.items[val.rows].tolist(), strict=True))
    every = set(zip(rows.users.tolist(), rows.items.tolist(), strict=True))
    assert len(held) == len(val.rows) > 0
    assert pairs(refit_on.hist) == every  # the refit and the export read every pair
    assert pairs(chosen_on.hist) == every - held
    # a held-out example's history: its user's other pairs that were not held out (as of its time,
    # or all of them), its own item not taken away a second time
    batch = chosen_on.user_batch(rows, val.rows, leave_out=False, hide=None)
    times = rows.times[val.rows]
    for k, r in enumerate(val.rows.tolist()):
        u = int(rows.users[r])
        mine = (rows.users == u) & ~torch.isin(torch.arange(len(rows.items)), val.rows)
        if as_of:
            mine &= rows.times < times[k]
        assert int(batch.hist_count[k].sum()) == int(mine.sum())


def test_a_random_slice_scored_as_the_test_reads_each_user_once_as_of_the_windows_end(
    tmp_path, monkeypatch
) -> None:
    """``val_protocol`` "window" on a random slice: a fixed split's test in miniature.

    Each user with a held-out pair is one query, with every other training item in their history
    and out of the ranking, and their held-out pairs as targets.
    """
    cfg = _config(tmp_path)
    cfg.two_tower.val_protocol, cfg.two_tower.choose_ids = "window", False
    cfg.two_tower.history_as_of = True  # even so, the one query per user reads the whole window
    chosen_on, rows, val, _ = selection_and_refit(cfg, "v20261017t000013_a11ce5", HGNN_VERSION, monkeypatch)
    assert val.users is not None and val.targets is not None and val.hist is chosen_on.hist
    held = sorted(zip(rows.users[val.rows].tolist(), rows.items[val.rows].tolist(), strict=True))
    user_of = val.users.users  # each query's history row
    assert len(torch.unique(user_of)) == len(user_of) == len({u for u, _ in held})
    targets = sorted(zip(user_of[val.targets[0]].tolist(), val.targets[1].tolist(), strict=True))
    assert targets == held
    every = set(zip(rows.users.tolist(), rows.items.tolist(), strict=True))
    excluded = set(zip(user_of[val.excluded[0]].tolist(), val.excluded[1].tolist(), strict=True))
    assert excluded == {(u, i) for u, i in every - set(held) if u in set(user_of.tolist())}
    # every query is as of the window's end: its history holds all of its user's other pairs
    batch = chosen_on.user_batch(val.users, torch.arange(len(user_of)), leave_out=False, hide=None)
    for k, u in enumerate(user_of.tolist()):
        assert int(batch.hist_count[k].sum()) == sum(1 for v, _ in every - set(held) if v == u)


def test_with_no_slice_to_choose_on_the_model_without_id_vectors_is_trained(tmp_path) -> None:
    cfg = _config(tmp_path)
    cfg.two_tower.val_share = 0.01  # fewer held-out examples than a batch: no slice
    result, state = _train_and_reexport(cfg, "v20261017t000014_0f1d5e")
    assert result.metrics["ids_chosen"] == 0 and "val_recalls" not in result.metrics
    assert state["two_tower"]["item_ids"] is False and state["two_tower"]["history_as_of"] is True
    assert not any(k.endswith("ids.weight") for k in state["state_dict"])
    assert result.metrics["epochs"] == cfg.two_tower.epochs
