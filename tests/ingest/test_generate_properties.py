"""The synthetic platform has the structure the issue asks for (on a 300-user batch)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingest.manifest import read_manifest
from ingest.synthetic.vocab import BASE_TOPICS

EVAL = pd.Timedelta(days=14)


def _streams(tables):
    ev = tables.interactions
    return ev[ev["event_type"] == "stream"].merge(tables.items[["item_id", "content_type"]], on="item_id")


def test_top_20_percent_of_titles_take_over_80_percent_of_streams(small_tables):
    per_item = _streams(small_tables)["item_id"].value_counts()
    per_item = per_item.reindex(small_tables.items["item_id"], fill_value=0).sort_values(ascending=False)
    top = per_item.iloc[: len(per_item) // 5].sum()
    assert top / per_item.sum() > 0.8


def test_most_audiobook_listeners_also_listen_to_podcasts(small_tables):
    s = _streams(small_tables)
    audiobook = set(s.loc[s["content_type"] == "audiobook", "user_id"])
    podcast = set(s.loc[s["content_type"] == "podcast", "user_id"])
    assert len(audiobook) >= 20
    assert len(audiobook & podcast) / len(audiobook) > 0.7


def test_podcasts_are_dense_and_audiobooks_sparse(small_tables):
    s = _streams(small_tables)
    by_type = s.groupby("content_type").agg(listeners=("user_id", "nunique"), streams=("event_id", "size"))
    n_items = small_tables.items["content_type"].value_counts()
    listeners_per_item = by_type["listeners"] / n_items
    repeats = s.groupby(["content_type", "user_id", "item_id"]).size().groupby("content_type").mean()
    assert by_type.loc["podcast", "listeners"] > 2 * by_type.loc["audiobook", "listeners"]
    assert listeners_per_item["podcast"] > 1.5 * listeners_per_item["audiobook"]
    assert repeats["podcast"] > repeats["audiobook"] > 1.0


def test_weak_signals_precede_later_streams_of_the_same_item(small_tables):
    ev = small_tables.interactions
    weak = ev[ev["event_type"].isin(["follow", "preview"])]
    first_weak = weak.groupby(["user_id", "item_id"])["event_at"].min().rename("weak_at").reset_index()
    streams = ev[ev["event_type"] == "stream"][["user_id", "item_id", "event_at"]]
    joined = first_weak.merge(streams, on=["user_id", "item_id"], how="left")
    later = joined["event_at"] > joined["weak_at"]
    followed_by_stream = later.groupby([joined["user_id"], joined["item_id"]]).any().mean()
    # chance: how often a user streams a random item at all
    n_pairs = streams[["user_id", "item_id"]].drop_duplicates().shape[0]
    chance = n_pairs / (ev["user_id"].nunique() * small_tables.items.shape[0])
    assert followed_by_stream > 0.5
    assert followed_by_stream > 20 * chance


def test_last_14_days_hold_cold_items_and_cold_users(small_raw, small_tables):
    eval_start = pd.Timestamp(read_manifest(small_raw).window_end) - EVAL
    s = _streams(small_tables)
    train, evaluation = s[s["event_at"] < eval_start], s[s["event_at"] >= eval_start]
    cold_items = set(evaluation["item_id"]) - set(train["item_id"])
    cold_users = set(evaluation["user_id"]) - set(train["user_id"])
    assert len(cold_items) >= 3
    assert len(cold_users) >= 3
    signups = small_tables.users["signup_at"]
    published = small_tables.items["published_at"]
    assert (signups >= eval_start).sum() >= 3 and (published >= eval_start).sum() >= 3


def test_window_and_manifest_describe_the_batch(small_raw, small_tables):
    manifest = read_manifest(small_raw)
    assert manifest.source == "synthetic"
    assert manifest.window_end - manifest.window_start == pd.Timedelta(days=104)
    assert manifest.window_end.isoformat() == "2026-10-31T00:00:00+00:00"
    assert manifest.suggested_split.train_days == 90 and manifest.suggested_split.eval_days == 14
    assert manifest.content_types == ["audiobook", "podcast"]
    ev = small_tables.interactions
    assert ev["event_at"].min() >= pd.Timestamp(manifest.window_start)
    assert ev["event_at"].max() < pd.Timestamp(manifest.window_end)
    assert ev["event_id"].is_unique
    assert set(ev["user_id"]) <= set(small_tables.users["user_id"])
    assert set(ev["item_id"]) <= set(small_tables.items["item_id"])


def test_users_act_only_after_signup_and_items_after_publication(small_tables):
    ev = small_tables.interactions
    joined = ev.merge(small_tables.users, on="user_id").merge(small_tables.items, on="item_id")
    assert (joined["event_at"] >= joined["signup_at"]).all()
    assert (joined["event_at"] >= joined["published_at"]).all()


def test_ms_played_is_realistic_with_skips(small_tables):
    ev = small_tables.interactions
    stream_ms = ev.loc[ev["event_type"] == "stream", "ms_played"]
    assert (stream_ms < 30_000).mean() > 0.03  # skips exist
    assert stream_ms.median() > 5 * 60_000
    assert stream_ms.max() <= 75 * 60_000
    assert (ev.loc[ev["event_type"] != "stream", "ms_played"] == 0).all()
    assert set(ev["event_type"]) == {"stream", "follow", "preview", "intent_to_pay"}


def test_text_carries_the_topic(small_tables):
    items = small_tables.items
    genre_words = {}
    for topic in BASE_TOPICS:
        genre_words.setdefault(topic.genre, set()).update(topic.keywords)
    in_own_genre = [
        any(k in desc for k in genre_words[genre])
        for desc, genre in zip(items["description"], items["genre"], strict=True)
    ]
    assert np.mean(in_own_genre) == 1.0
    assert items["title"].str.len().min() > 5
    assert (items["language"] == "en").mean() > 0.7


def test_creators_own_several_items_of_one_topic(small_tables):
    items = small_tables.items
    per_creator = items.groupby("creator_id").agg(n=("item_id", "size"), genres=("genre", "nunique"))
    assert (per_creator["n"] > 1).mean() > 0.5
    assert (per_creator["genres"] == 1).all()
