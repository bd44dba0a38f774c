"""Point-in-time proof: a hand-written timeline whose answer is known by construction.

Timeline (day N = 2026-10-0N 00:00 UTC, TTL 3 days):

- user 1: ``n_streams_90d`` becomes 30 on day 3 and 70 on day 7 (day 7 also holds an older
  correction, 69, with an earlier ``created_at``); events on days 2, 5 and 8 (at noon).
  Expected: day 2 -> null (the day-3 value is in the future), day 5 -> 30, day 8 -> 70.
- user 2: a single row on day 3 (33); events on days 5 and 8. Expected: 33, then null on day 8
  because the row is 5 days old and the TTL is 3 days.
- item 10: ``n_streams_1d`` 1, 4, 7 on days 1, 4, 7; events on days 2, 5, 8 -> 1, 4, 7.

The DuckDB offline store keeps an entity row with no feature row inside the TTL and returns
nulls. The ``file`` (dask) offline store silently DROPS such rows instead (measured with Feast
0.67 on this timeline: ``user_activity:n_streams_90d`` alone returns 3 of the 5 events, without
u1d2 and u2d8; with the profile and item views too only 2 rows are left, u2d5 going as well).
``get_training_frame`` would then no longer have one row per event. That is why gfm uses DuckDB.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from gfm.config import Config
from gfm.errors import InvalidInputError, NotFoundError


def day(n: int, hour: int = 0) -> pd.Timestamp:
    return pd.Timestamp(datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=n - 1, hours=hour))


def write_timeline(marts: Path) -> None:
    marts.mkdir(parents=True)
    built = day(20)
    pd.DataFrame(
        {
            "user_id": [1, 2],
            "country": ["SE", "US"],
            "age_bucket": ["18-24", "25-34"],
            "signup_at": [day(0), day(6)],  # user 2 signs up on day 6: no profile before it
            "n_train_items": [3, 1],
            "is_cold": [False, False],
            "created_at": [built, built],
        }
    ).to_parquet(marts / "dim_users.parquet")
    pd.DataFrame(
        {
            "item_id": [10],
            "content_type": ["podcast"],
            "title": ["t"],
            "description": [""],
            "language": ["en"],
            "genre": ["news"],
            "creator_id": ["c1"],
            "published_at": [day(-30)],
            "n_train_users": [2],
            "is_cold": [False],
            "created_at": [built],
        }
    ).to_parquet(marts / "dim_items.parquet")
    users = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2],
            "feature_at": [day(3), day(7), day(7), day(3)],
            "created_at": [day(3, 1), day(7, 1), day(7, 2), day(3, 1)],
            "n_streams_90d": [30, 69, 70, 33],
        }
    )
    for column in ("n_streams_90d_audiobook", "n_streams_90d_podcast"):
        users[column] = users["n_streams_90d"] // 2
    for column in ("n_follows_90d", "n_previews_90d", "n_intent_to_pay_90d", "n_items_90d"):
        users[column] = 0
    users.to_parquet(marts / "user_features_daily.parquet")
    pd.DataFrame(
        {
            "item_id": [10, 10, 10],
            "feature_at": [day(1), day(4), day(7)],
            "created_at": [day(1), day(4), day(7)],
            "n_streams_1d": [1, 4, 7],
            "n_listeners_1d": [1, 1, 1],
            "n_streams_total": [1, 5, 12],
            "n_listeners_total": [1, 2, 3],
            "age_days": [31, 34, 37],
        }
    ).to_parquet(marts / "item_features_daily.parquet")


@pytest.fixture(scope="module")
def timeline(tmp_path_factory: pytest.TempPathFactory, make_config) -> Config:
    from feature_repo.store import apply_definitions

    cfg = make_config(tmp_path_factory.mktemp("pit"), ttl_days=3)
    write_timeline(cfg.marts_dir)
    apply_definitions(cfg)
    return cfg


def events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2],
            "item_id": [10, 10, 10, 10, 10],
            "event_timestamp": [day(8, 12), day(2, 12), day(5, 12), day(5, 12), day(8, 12)],
            "label": ["u1d8", "u1d2", "u1d5", "u2d5", "u2d8"],
        }
    )


def test_historical_features_are_point_in_time_correct_and_respect_ttl(timeline: Config) -> None:
    from feature_repo.store import get_training_frame

    frame = get_training_frame(timeline, events())
    got = frame.set_index("label")
    assert list(frame["label"]) == ["u1d8", "u1d2", "u1d5", "u2d5", "u2d8"]  # input order kept
    activity = got["user_activity__n_streams_90d"]
    assert pd.isna(activity["u1d2"])  # the day-3 value must not leak into a day-2 event
    assert activity["u1d5"] == 30
    assert activity["u1d8"] == 70  # same timestamp: the row created later wins
    assert activity["u2d5"] == 33
    assert pd.isna(activity["u2d8"])  # 5 days old > TTL 3 days: expired
    stats = got["item_stats__n_streams_1d"]
    assert [stats[k] for k in ("u1d2", "u1d5", "u1d8")] == [1, 4, 7]


def test_profiles_are_known_only_after_their_timestamp_and_never_expire(timeline: Config) -> None:
    from feature_repo.store import get_training_frame

    got = get_training_frame(timeline, events()).set_index("label")
    country = got["user_profile__country"]
    assert country["u1d2"] == "SE" and country["u1d8"] == "SE"  # signup day 0, no TTL
    assert country["u2d5"] is None or pd.isna(country["u2d5"])  # user 2 signs up on day 6
    assert country["u2d8"] == "US"
    assert (got["item_profile__content_type"] == "podcast").all()


def test_entity_frame_with_only_items_and_explicit_features(timeline: Config) -> None:
    from feature_repo.store import get_training_frame

    frame = pd.DataFrame({"item_id": [10, 10], "event_timestamp": [day(5), day(9)]})
    out = get_training_frame(timeline, frame, ["item_stats:n_streams_total"])
    assert list(out["item_stats__n_streams_total"]) == [5, 12]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"user_id": [1], "event_timestamp": [day(5)]}), "missing columns ['item_id']"),
        (
            pd.DataFrame({"user_id": [1], "item_id": [10], "event_timestamp": [day(5).tz_localize(None)]}),
            "naive",
        ),
        (
            pd.DataFrame({"user_id": [1, 1], "item_id": [10, 10], "event_timestamp": [day(5), day(5)]}),
            "share their (keys, event_timestamp)",
        ),
    ],
    ids=["missing-column", "naive-timestamps", "duplicate-keys"],
)
def test_bad_entity_frames_are_refused_before_feast_runs(
    timeline: Config, frame: pd.DataFrame, message: str
) -> None:
    from feature_repo.store import get_training_frame

    with pytest.raises(
        InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        get_training_frame(timeline, frame)


def test_unknown_feature_view_or_service_is_not_found(timeline: Config) -> None:
    from feature_repo.store import get_training_frame

    with pytest.raises(NotFoundError, match="nope"):
        get_training_frame(timeline, events(), ["nope:x"])
    with pytest.raises(NotFoundError, match="two_tower_training_v0"):
        get_training_frame(timeline, events(), "two_tower_training_v0")
