"""Point-in-time feature snapshots, checked by hand on user 1 (see warehouse_fixture.HAND_EVENTS)."""

from __future__ import annotations

import pandas as pd
from warehouse_fixture import DORMANT_USER, HAND_USER, WINDOW_END, WINDOW_START

COLUMNS = [
    "n_streams_90d",
    "n_streams_90d_audiobook",
    "n_streams_90d_podcast",
    "n_follows_90d",
    "n_items_90d",
]

# feature_at -> (streams, audiobook streams, podcast streams, follows, distinct items) over the
# 90 days before feature_at; events at feature_at itself or later are not counted
HAND_CHECKED = {
    "2026-07-20": (0, 0, 0, 0, 0),  # describes 07-19: nothing yet
    "2026-07-21": (1, 0, 1, 0, 1),  # podcast 1000 at 07-20 10:00
    "2026-07-22": (2, 1, 1, 0, 2),  # + audiobook 2000 at 07-21 23:59:59 (the 10 s stream is no consumption)
    "2026-07-23": (2, 1, 1, 1, 2),  # + the follow at 07-22 00:00:00 (follows are not items)
    "2026-10-18": (2, 1, 1, 1, 2),  # window [07-20, 10-18) still holds the 07-20 stream
    "2026-10-19": (1, 1, 0, 1, 1),  # window [07-21, 10-19): the 07-20 stream has left
    "2026-10-20": (1, 0, 1, 1, 1),  # window [07-22, 10-20): + podcast 1000 again at 10-19 12:00,
    #                                 the 07-21 23:59:59 audiobook stream has left, the 07-22 00:00 follow not
    "2026-10-21": (1, 0, 1, 0, 1),  # window [07-23, 10-21): the follow has left
}


def test_user_features_are_point_in_time_correct_for_a_hand_checked_user(built):
    rows = built.query(f"select * from user_features_daily where user_id = {HAND_USER} order by feature_at")
    by_day = rows.set_index(rows.feature_at.dt.strftime("%Y-%m-%d"))
    for day, expected in HAND_CHECKED.items():
        assert tuple(by_day.loc[day, COLUMNS]) == expected, day


def test_user_snapshots_are_daily_midnights_up_to_the_window_end(built):
    rows = built.query(f"select feature_at from user_features_daily where user_id = {HAND_USER} order by 1")
    at = rows.feature_at
    assert at.iloc[0] == pd.Timestamp(WINDOW_START) + pd.Timedelta(days=1)
    assert at.iloc[-1] == pd.Timestamp(WINDOW_END)
    assert (at.diff().dropna() == pd.Timedelta(days=1)).all()
    assert (at.dt.hour == 0).all() and str(at.dt.tz) == "UTC"


def test_snapshots_stop_after_a_closing_zero_row_when_a_user_goes_quiet(built):
    rows = built.query(
        f"select * from user_features_daily where user_id = {DORMANT_USER} order by feature_at"
    )
    # one stream on 07-19: rows describe 07-19 .. 10-17 (= 07-19 + 90 days, window emptied)
    assert rows.feature_at.iloc[0] == pd.Timestamp("2026-07-20", tz="UTC")
    assert rows.feature_at.iloc[-1] == pd.Timestamp("2026-10-18", tz="UTC")
    assert len(rows) == 91
    assert rows.n_streams_90d.iloc[:-1].eq(1).all() and rows.n_items_90d.iloc[:-1].eq(1).all()
    assert rows.n_streams_90d.iloc[-1] == 0 and rows.n_items_90d.iloc[-1] == 0


def test_every_user_and_item_has_snapshots_from_its_first_day(built):
    users = built.query(
        "select u.user_id, min(f.feature_at) as first_at, count(*) as n from dim_users u "
        "join user_features_daily f using (user_id) group by 1"
    )
    assert len(users) == len(built.query("select user_id from dim_users"))
    signup = built.raw("users").set_index("user_id").signup_at
    first = users.set_index("user_id").first_at
    late = signup[signup > pd.Timestamp(WINDOW_START)]
    assert (first[late.index] == late.dt.normalize() + pd.Timedelta(days=1)).all()


def test_item_features_count_streams_and_listeners_up_to_feature_at(built):
    at = pd.Timestamp("2026-09-01", tz="UTC")
    got = built.query(
        "select item_id, n_streams_total, n_listeners_total from item_features_daily "
        "where feature_at = timestamptz '2026-09-01 00:00:00+00'"
    ).set_index("item_id")
    ev = built.raw("interactions")
    seen = ev[(ev.event_type == "stream") & (ev.ms_played >= 30_000) & (ev.event_at < at)]
    expected = seen.groupby("item_id").agg(n=("event_id", "size"), users=("user_id", "nunique"))
    assert got.n_streams_total.sum() == expected.n.sum()
    assert got.n_streams_total.reindex(expected.index).eq(expected.n).all()
    assert got.n_listeners_total.reindex(expected.index).eq(expected.users).all()


def test_feature_columns_follow_the_data_content_types(built):
    columns = set(built.query("select * from user_features_daily limit 0").columns)
    assert {"n_streams_90d_audiobook", "n_streams_90d_podcast"} <= columns
    assert built.result.content_types == ["audiobook", "podcast"]
