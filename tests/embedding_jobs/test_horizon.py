"""Two-tower examples seen from a moment before the consumption (``two_tower.horizon_days``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from embedding_jobs.data.horizon import DAY_NS, as_of_times


def _times(n: int) -> pd.Series:
    start = pd.Timestamp("2026-09-01", tz="UTC")
    return pd.Series(start + pd.to_timedelta(np.arange(n) * 3_600, unit="s"), index=np.arange(n) + 100)


def test_zero_days_keeps_the_consumption_times() -> None:
    t = _times(50)
    out = as_of_times(t, 0.0, seed=1)
    assert (out == t).all() and out.index.equals(t.index)


def test_each_example_is_seen_from_up_to_the_horizon_before_and_a_seed_repeats_it() -> None:
    t = _times(4_000)
    out = as_of_times(t, 14.0, seed=7)
    back = (t - out).dt.total_seconds().to_numpy() * 1e9 / DAY_NS
    assert out.index.equals(t.index)
    assert back.min() >= 0.0 and back.max() < 14.0
    assert 6.5 < back.mean() < 7.5  # uniform over [0, 14): mean 7, sd of the mean .06
    # a 14-day horizon spreads the draws over every day of it
    assert set(np.floor(back).astype(int)) == set(range(14))
    assert (as_of_times(t, 14.0, seed=7) == out).all()
    assert not (as_of_times(t, 14.0, seed=8) == out).all()


def test_training_retrieves_features_as_of_the_drawn_moments_and_validates_on_consumption(
    tmp_path, monkeypatch
) -> None:
    """The retrieval sees shifted times; the validation slice is chosen by the consumption time."""
    from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

    import embedding_jobs.train_two_tower as tt_mod
    from embedding_jobs.data.histories import consumption_times

    cfg = build_world(tmp_path)
    cfg.two_tower.epochs, cfg.two_tower.val_days, cfg.two_tower.horizon_days = 1, 2, 3.0
    cfg.two_tower.batch_size = 8
    entities: list[pd.DataFrame] = []
    slices: list[np.ndarray] = []

    def retrieve(c, entity_df, features):  # type: ignore[no-untyped-def]
        entities.append(entity_df.copy())
        return pandas_point_in_time(c, entity_df, features)

    real_validation = tt_mod.validation_slice

    def validation(cfg_, inputs, frame, consumed_ns, *rest):  # type: ignore[no-untyped-def]
        slices.append(np.asarray(consumed_ns))
        return real_validation(cfg_, inputs, frame, consumed_ns, *rest)

    monkeypatch.setattr(tt_mod, "validation_slice", validation)
    with one_thread():
        tt_mod.train_two_tower(cfg, "v20261017t000006_ffffff", HGNN_VERSION, retrieve=retrieve)

    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    positives = facts.loc[facts["is_consumed"].astype(bool)]
    expected = positives[["user_id", "item_id"]].assign(at=consumption_times(positives))
    expected = expected.sort_values(["user_id", "item_id"]).reset_index(drop=True)
    training = entities[0]  # the first retrieval holds one row per training example
    assert len(training) == len(expected)
    assert (training["user_id"].to_numpy() == expected["user_id"].to_numpy()).all()
    back = pd.to_datetime(expected["at"], utc=True) - pd.to_datetime(training["event_timestamp"], utc=True)
    days = back.dt.total_seconds().to_numpy() / 86_400
    assert days.min() >= -1e-6 and days.max() < 3.0 and days.mean() > 0.5
    # the validation slice is chosen by when the item was consumed, not by the drawn moment
    consumed = pd.to_datetime(expected["at"], utc=True).astype("datetime64[ns, UTC]")
    assert (slices[0] == consumed.map(lambda x: x.value).to_numpy()).all()


def test_no_example_is_seen_from_before_its_floor_nor_after_its_consumption() -> None:
    t = _times(500)
    floor = t - pd.Timedelta(days=1)
    floor.iloc[::2] = pd.NaT  # no floor: the draw stands
    floor.iloc[1] = t.iloc[1] + pd.Timedelta(days=1)  # a floor after the consumption: seen at t
    out = as_of_times(t, 14.0, seed=3, not_before=floor)
    has = floor.notna() & (floor <= t)
    assert (out[has] >= floor[has]).all() and (out <= t).all()
    assert out.iloc[1] == t.iloc[1]
    assert (out[floor.isna()] < t[floor.isna()] - pd.Timedelta(days=1)).mean() > 0.8  # not clipped
