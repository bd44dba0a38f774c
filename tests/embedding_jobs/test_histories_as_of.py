"""Two-tower histories as of a moment: an example sees only what its user met strictly before it.

A hand-written timeline first, then the vectorised lookup against a brute-force scan of random
timelines, then the wiring: every user-tower batch of a real training run (training examples,
validation examples, export) is checked against the history recomputed from the mart.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

from embedding_jobs.data.histories import NEVER, _run_cumsum, build_histories, consumption_times, signal_times
from embedding_jobs.data.interactions import Catalogue, to_nanos
from embedding_jobs.train_two_tower import train_two_tower
from embedding_jobs.two_tower_inputs import Inputs

DAY0 = datetime(2026, 9, 1, tzinfo=UTC)


def _catalogue(types: list[int]) -> Catalogue:
    """Items 100, 101, ... with one-hot history vectors, so a sum names the items it holds."""
    n = len(types)
    eye = torch.eye(n)
    return Catalogue(np.arange(100, 100 + n), torch.tensor(types), eye, torch.zeros(n, 0), eye)


def _facts(rows: list[tuple[int, int, int, int, float]]) -> pd.DataFrame:
    """(user, item, n_streams, n_follows, day) rows in the ``fct_interactions`` layout."""
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "n_streams", "n_follows", "day"])
    frame["is_consumed"] = frame["n_streams"] > 0
    frame["n_previews"] = frame["n_intent_to_pay"] = 0
    frame["first_event_at"] = [DAY0 + timedelta(days=d) for d in frame.pop("day")]
    return frame


def _at(day: float) -> torch.Tensor:
    return torch.tensor([int(to_nanos(pd.Series([DAY0 + timedelta(days=day)]))[0])])


def test_a_later_item_is_left_out_of_the_history_and_the_window_end_sees_all() -> None:
    cat = _catalogue([0, 0, 0, 0])
    # user 1 streams 100 on day 1, 101 on day 2 and 102 on day 3, and follows 103 on day 2
    facts = _facts([(1, 100, 1, 0, 1), (1, 101, 2, 0, 2), (1, 102, 1, 0, 3), (1, 103, 0, 1, 2)])
    hist = build_histories(np.array([1, 2]), facts, cat, n_types=1)
    user = torch.tensor([0])

    s, c, w, wc = hist.as_of(user, _at(2))  # the example of item 101: only 100 came before it
    assert s[0, 0].tolist() == [1, 0, 0, 0] and c.tolist() == [[1.0]]
    assert w.sum() == 0 and wc.tolist() == [[0.0]]  # the follow at the same moment is not before
    s, c, w, wc = hist.as_of(user, _at(2) + 1)
    assert s[0, 0].tolist() == [1, 1, 0, 0] and w[0, 0].tolist() == [0, 0, 0, 1] and wc.tolist() == [[1.0]]
    s, c, _, _ = hist.as_of(user, torch.tensor([NEVER]))  # the export: the whole training window
    assert s[0, 0].tolist() == [1, 1, 1, 0] and c.tolist() == [[3.0]]
    s, c, w, wc = hist.as_of(torch.tensor([1]), torch.tensor([NEVER]))  # a user without history
    assert s.abs().sum() == w.abs().sum() == 0 and c.sum() == wc.sum() == 0


def _brute(
    facts: pd.DataFrame, cat: Catalogue, user: int, at: int, consumed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-type sum and count of a user's items (consumed, or weak-signal) strictly before ``at``."""
    n_types, dim = int(cat.type_idx.max()) + 1, cat.history.shape[1]
    sums, counts = np.zeros((n_types, dim)), np.zeros(n_types)
    times = to_nanos(consumption_times(facts) if consumed else signal_times(facts))
    for i, row in enumerate(facts.itertuples()):
        weak = row.n_follows + row.n_previews + row.n_intent_to_pay > 0
        if row.user_id == user and (row.is_consumed if consumed else weak) and times[i] < at:
            item = int(np.flatnonzero(cat.item_ids == row.item_id)[0])
            sums[int(cat.type_idx[item])] += cat.history[item].numpy()
            counts[int(cat.type_idx[item])] += 1
    return sums, counts


@pytest.mark.parametrize("own_times", [False, True])
def test_as_of_lookup_matches_a_brute_force_scan_of_random_timelines(own_times: bool) -> None:
    rng = np.random.default_rng(3)
    n_users, n_items = 12, 20
    cat = _catalogue(rng.integers(0, 3, n_items).tolist())
    cat.history = torch.from_numpy(rng.normal(size=(n_items, 5)).astype(np.float32))
    pairs = {
        (int(u), int(i))
        for u, i in zip(rng.integers(1, n_users, 150), rng.integers(0, n_items, 150), strict=True)
    }
    rows = [  # few distinct days, so equal times (ties) are common
        (u, 100 + i, int(rng.integers(0, 3)), int(rng.integers(0, 2)), float(rng.integers(0, 6)))
        for u, i in sorted(pairs)
    ]
    facts = _facts(rows)
    if own_times:  # a mart that records the first stream and the first follow apart
        facts["first_consumed_at"] = facts["first_event_at"] + pd.to_timedelta(
            rng.integers(0, 3, len(facts)), "D"
        )
        facts["first_signal_at"] = facts["first_event_at"] + pd.to_timedelta(
            rng.integers(0, 3, len(facts)), "D"
        )
    hist = build_histories(np.arange(1, n_users + 1), facts, cat, n_types=3)
    users = np.repeat(np.arange(1, n_users + 1), 9)
    days = np.tile(np.arange(9) * 0.5 + 0.5 * (rng.random(9) < 0.5), n_users)  # on and between days
    at = torch.from_numpy(to_nanos(pd.Series([DAY0 + timedelta(days=float(d)) for d in days])))
    at[::7] = NEVER
    s, c, w, wc = hist.as_of(torch.from_numpy(hist.rows(users)), at)
    for r, (user, moment) in enumerate(zip(users, at.tolist(), strict=True)):
        for consumed, (got_sum, got_count) in ((True, (s, c)), (False, (w, wc))):
            sums, counts = _brute(facts, cat, int(user), moment, consumed)
            assert np.allclose(got_sum[r].numpy(), sums, atol=1e-5), (user, moment, consumed)
            assert got_count[r].tolist() == counts.tolist()


def test_running_sums_restart_at_every_run() -> None:
    vectors = torch.arange(24, dtype=torch.float32).view(8, 3)
    items = np.array([3, 1, 4, 1, 5, 0, 2, 6, 7, 7])
    first = np.array([0, 0, 0, 3, 4, 4, 4, 4, 4, 9])  # runs [0-2], [3], [4-8], [9]
    expected = np.zeros((len(items), 3))
    for e in range(len(items)):
        expected[e] = vectors[items[first[e] : e + 1]].sum(0).numpy()
    sums = _run_cumsum(vectors, items, first).numpy()
    assert np.array_equal(sums[1:], expected) and not sums[0].any()


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Record every user-tower batch: (inputs, users, times, leave_out, training, batch, shown rows)."""
    calls = []
    real = Inputs.user_batch

    def recording(self: Inputs, r, idx, leave_out, hide):  # type: ignore[no-untyped-def]
        batch = real(self, r, idx, leave_out, hide)
        shown = np.ones(len(idx), dtype=bool) if hide is None else ~hide.numpy()
        users = self.hist.user_ids[r.users[idx].numpy()]
        calls.append(
            (self, users[shown], r.times[idx].numpy()[shown], leave_out, hide is not None, batch, shown)
        )
        return batch

    monkeypatch.setattr(Inputs, "user_batch", recording)
    return calls


def _expected_means(inputs: Inputs, facts: pd.DataFrame, users: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Brute-force per-type mean history vector of each (user, moment)."""
    out = []
    for user, moment in zip(users, at, strict=True):
        sums, counts = _brute(facts, inputs.cat, int(user), int(moment), consumed=True)
        out.append(sums / np.maximum(counts, 1)[:, None])
    return np.stack(out)


def test_every_training_validation_and_export_batch_sees_its_history_as_of_its_time(
    tmp_path, monkeypatch
) -> None:
    cfg = build_world(tmp_path)
    cfg.two_tower.epochs = 1
    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    calls = _spy(monkeypatch)
    with one_thread():
        train_two_tower(cfg, "v20261017t000001_aaaaaa", HGNN_VERSION, retrieve=pandas_point_in_time)
    kinds = {"training": 0, "validation": 0, "export": 0}
    leaky_rows = 0
    for inputs, users, at, leave_out, training, batch, shown in calls:
        kind = "export" if not leave_out else "training" if training else "validation"
        kinds[kind] += 1
        moments = np.full(len(users), NEVER) if kind == "export" else at
        expected = _expected_means(inputs, facts, users, moments)
        assert np.allclose(batch.hist[torch.from_numpy(shown)].numpy(), expected, atol=1e-5), kind
        if kind != "export":  # the old history (whole window minus the example) would differ here
            window = _expected_means(inputs, facts, users, np.full(len(users), NEVER))
            leaky_rows += int((np.abs(window - expected).sum(axis=(1, 2)) > 1e-4).sum())
    assert kinds["training"] > 0 and kinds["validation"] > 0 and kinds["export"] == 1
    assert leaky_rows > 0  # later items exist that the old histories let in


def test_the_switch_off_restores_the_window_history_without_the_own_item(tmp_path, monkeypatch) -> None:
    cfg = build_world(tmp_path)
    cfg.two_tower.epochs = 1
    cfg.two_tower.val_days = 0
    cfg.two_tower.history_as_of = False
    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    calls = _spy(monkeypatch)
    with one_thread():
        train_two_tower(cfg, "v20261017t000002_bbbbbb", HGNN_VERSION, retrieve=pandas_point_in_time)
    inputs, users, _, leave_out, training, batch, shown = calls[0]
    assert leave_out and training
    window = _expected_means(inputs, facts, users, np.full(len(users), NEVER))
    counts = batch.hist_count[torch.from_numpy(shown)].sum(1).numpy()
    full = facts.loc[facts["is_consumed"]].groupby("user_id").size().reindex(users).to_numpy()
    assert np.array_equal(counts, full - 1)  # every window item but the example's own
    assert not np.allclose(batch.hist[torch.from_numpy(shown)].numpy(), window)  # own item left out
