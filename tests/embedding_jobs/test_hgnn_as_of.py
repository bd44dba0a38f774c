"""HGNN inputs as of an example's time: before its item could have an edge, the isolated vector.

A hand-written timeline for the entry times, then the wiring: every item-tower batch of a real
training run (training, validation, export) is checked against a brute-force recount from the mart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

from embedding_jobs.data.graph_entry import NEVER_NS, graph_entry_times, isolated_rows
from embedding_jobs.data.interactions import to_nanos
from embedding_jobs.export import read_vectors, write_vectors
from embedding_jobs.train_two_tower import train_two_tower
from embedding_jobs.two_tower_inputs import Inputs
from gfm.naming import export_path

DAY0 = datetime(2026, 9, 1, tzinfo=UTC)


def _ns(day: float) -> int:
    return int(to_nanos(pd.Series([DAY0 + timedelta(days=day)]))[0])


def test_entry_is_the_moment_of_the_min_support_th_distinct_consumer() -> None:
    rows = [  # (user, item, consumed, day)
        (1, 10, True, 1),
        (1, 10, True, 0.5),  # the same user twice counts once, at their first time
        (2, 10, True, 3),
        (3, 10, True, 2),
        (1, 11, True, 4),  # one consumer only
        (2, 12, False, 1),  # a follow is not a consumption
        (3, 12, False, 2),
    ]
    facts = pd.DataFrame(rows, columns=["user_id", "item_id", "is_consumed", "day"])
    facts["first_event_at"] = [DAY0 + timedelta(days=d) for d in facts.pop("day")]
    items = np.array([10, 11, 12, 13])

    entry = graph_entry_times(facts, items, min_support=2)
    assert entry.tolist() == [_ns(2), NEVER_NS, NEVER_NS, NEVER_NS]  # user 3 (day 2) is the second
    assert graph_entry_times(facts, items, min_support=1)[:2].tolist() == [_ns(0.5), _ns(4)]
    # before or at the entry: isolated; after it: not; an item that never enters: always isolated
    at = np.array([_ns(1), _ns(2), _ns(2.5), _ns(9)])
    assert isolated_rows(entry, np.array([0, 0, 0, 1]), at).tolist() == [True, True, False, True]


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Record every item-tower batch: (inputs, catalogue rows, times, HGNN inputs, isolate mask)."""
    calls = []
    real = Inputs.item_batch

    def recording(self: Inputs, r, idx, isolate=None):  # type: ignore[no-untyped-def]
        batch = real(self, r, idx, isolate)
        drop = None if isolate is None else isolate.numpy()
        calls.append((self, r.items[idx].numpy(), r.times[idx].numpy(), batch.hgnn.numpy(), drop))
        return batch

    monkeypatch.setattr(Inputs, "item_batch", recording)
    return calls


def _world_with_isolated(tmp_path) -> Any:  # type: ignore[no-untyped-def]
    cfg = build_world(tmp_path)
    cfg.two_tower.epochs = 1
    cfg.two_tower.hgnn_as_of = True  # the default, set here so the test does not depend on it
    ids, vecs = read_vectors(export_path(cfg.embeddings_dir, "hgnn", HGNN_VERSION, "item"))
    # isolated vectors that cannot be mistaken for the full ones
    path = export_path(cfg.embeddings_dir, "hgnn", HGNN_VERSION, "isolated_item")
    write_vectors(path, "item_id", ids, -vecs, HGNN_VERSION)
    return cfg


def _brute_isolated(facts: pd.DataFrame, item_ids: np.ndarray, at: np.ndarray, support: int) -> np.ndarray:
    """Per (item, moment): fewer than ``support`` distinct users had consumed it strictly before."""
    consumed = facts.loc[facts["is_consumed"]]
    times = to_nanos(consumed["first_event_at"])
    out = []
    for item, moment in zip(item_ids, at, strict=True):
        mine = consumed["item_id"].to_numpy() == item
        users = set(consumed["user_id"].to_numpy()[mine & (times < moment)].tolist())
        out.append(len(users) < support)
    return np.array(out)


@pytest.mark.parametrize("export_days", [0.0, 3.0])
def test_every_item_batch_sees_the_hgnn_vector_as_of_its_time(tmp_path, monkeypatch, export_days) -> None:
    """With ``graph_export_days`` the moment is the last export on a calendar of that many days."""
    cfg = _world_with_isolated(tmp_path)
    cfg.two_tower.item_graph_dropout = 0.0  # the as-of rule alone (the dropout's own test is below)
    cfg.two_tower.graph_export_days = export_days
    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    calls = _spy(monkeypatch)
    with one_thread():
        train_two_tower(cfg, "v20261017t000003_cccccc", HGNN_VERSION, retrieve=pandas_point_in_time)
    every = _ns(export_days) - _ns(0)
    seen = {True: 0, False: 0, "by_export": 0}
    for inputs, rows, at, hgnn, drop in calls:
        assert drop is None  # at a share of 0 nothing is isolated at random
        cat = inputs.cat
        full, alone = cat.hgnn[rows].numpy(), cat.hgnn_isolated[rows].numpy()
        export = [a // every * every for a in at.tolist()] if every else at
        expected = _brute_isolated(facts, cat.item_ids[rows], np.asarray(export), cfg.graph.min_support)
        assert np.allclose(hgnn[expected], alone[expected]) and np.allclose(hgnn[~expected], full[~expected])
        seen[True] += int(expected.sum())
        seen[False] += int((~expected).sum())
        exact = _brute_isolated(facts, cat.item_ids[rows], at, cfg.graph.min_support)
        seen["by_export"] += int((expected & ~exact).sum())
    assert seen[True] > 0 and seen[False] > 0  # both kinds occur, so the check above bites
    # the calendar isolates items entered since the last export, beyond the exact rule's
    assert (seen["by_export"] > 0) == bool(export_days)


def test_the_switch_off_gives_every_example_the_full_vector(tmp_path, monkeypatch) -> None:
    cfg = _world_with_isolated(tmp_path)
    cfg.two_tower.hgnn_as_of = False
    calls = _spy(monkeypatch)
    with one_thread():
        train_two_tower(cfg, "v20261017t000004_dddddd", HGNN_VERSION, retrieve=pandas_point_in_time)
    assert calls
    for inputs, rows, _, hgnn, _ in calls:
        assert inputs.cat.hgnn_isolated is None
        assert torch.allclose(torch.from_numpy(hgnn), inputs.cat.hgnn[rows])


def test_item_graph_dropout_isolates_a_share_of_training_columns_only(tmp_path, monkeypatch) -> None:
    cfg = _world_with_isolated(tmp_path)
    cfg.two_tower.item_graph_dropout = 0.5
    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    calls = _spy(monkeypatch)
    with one_thread():
        train_two_tower(cfg, "v20261017t000005_eeeeee", HGNN_VERSION, retrieve=pandas_point_in_time)
    dropped = kept = 0
    for inputs, rows, at, hgnn, drop in calls:
        cat = inputs.cat
        full, alone = cat.hgnn[rows].numpy(), cat.hgnn_isolated[rows].numpy()
        as_of = _brute_isolated(facts, cat.item_ids[rows], at, cfg.graph.min_support)
        expected = as_of if drop is None else as_of | drop
        assert np.allclose(hgnn[expected], alone[expected]) and np.allclose(hgnn[~expected], full[~expected])
        if drop is not None:
            dropped += int((drop & ~as_of).sum())
            kept += int((~drop & ~as_of).sum())
    # training columns were drawn (the export's and the validation's batches pass no mask), and
    # about half of those the as-of rule gives a full vector lost it
    assert dropped + kept > 100 and 0.35 < dropped / (dropped + kept) < 0.65
    assert any(drop is None for *_, drop in calls)  # the export encodes every item with its own vector


def test_item_graph_dropout_leaves_a_model_without_isolated_vectors_as_it_was(tmp_path) -> None:
    """2T (no HGNN inputs) draws no dropout numbers, so its batches and its vectors do not change."""
    cfg = _world_with_isolated(tmp_path)
    cfg.two_tower.use_hgnn = False
    vectors = []
    for share, version in ((0.0, "v20261017t000006_ffffff"), (0.5, "v20261017t000007_aaaaaa")):
        cfg.two_tower.item_graph_dropout = share
        with one_thread():
            train_two_tower(cfg, version, None, retrieve=pandas_point_in_time)
        vectors.append(read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "item"))[1])
    assert np.array_equal(vectors[0], vectors[1])
