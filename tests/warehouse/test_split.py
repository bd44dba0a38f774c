"""The train/eval split: windows, cold flags and the eval facts, against the raw events."""

from __future__ import annotations

import pandas as pd
from conftest import GRAPH
from warehouse_fixture import COLD_ITEMS, COLD_USERS, HAND_USER, TRAIN_END, WINDOW_END, WINDOW_START


def consumptions(built, start, end) -> pd.DataFrame:
    ev = built.raw("interactions")
    keep = (ev.event_type == "stream") & (ev.ms_played >= GRAPH["min_ms_played"])
    keep &= (ev.event_at >= pd.Timestamp(start)) & (ev.event_at < pd.Timestamp(end))
    return ev[keep]


def test_split_boundaries_come_from_the_manifest_window(built):
    split = built.result.split
    assert split.train_start == WINDOW_START
    assert split.train_end == TRAIN_END
    assert split.eval_end == WINDOW_END


def test_training_and_evaluation_windows_do_not_overlap(built):
    train = built.query("select min(first_event_at) as lo, max(last_event_at) as hi from fct_interactions")
    evals = built.query(
        "select min(first_event_at) as lo, max(first_event_at) as hi from fct_eval_interactions"
    )
    assert train.lo[0] >= pd.Timestamp(WINDOW_START)
    assert train.hi[0] < pd.Timestamp(TRAIN_END) <= evals.lo[0]
    assert evals.hi[0] < pd.Timestamp(WINDOW_END)


def test_eval_interactions_are_exactly_the_pairs_consumed_in_the_eval_window(built):
    expected = consumptions(built, TRAIN_END, WINDOW_END)[["user_id", "item_id"]].drop_duplicates()
    got = built.query("select user_id, item_id from fct_eval_interactions")
    assert set(map(tuple, got.to_numpy())) == set(map(tuple, expected.to_numpy()))


def test_cold_flags_match_training_window_consumption(built):
    train = consumptions(built, WINDOW_START, TRAIN_END)
    users = built.query("select user_id, is_cold, n_train_items from dim_users")
    items = built.query("select item_id, is_cold, n_train_users from dim_items")
    assert set(users[~users.is_cold].user_id) == set(train.user_id)
    assert set(items[~items.is_cold].item_id) == set(train.item_id)
    assert set(COLD_USERS) <= set(users[users.is_cold].user_id)
    assert set(COLD_ITEMS) <= set(items[items.is_cold].item_id)
    n_items = train.groupby("user_id").item_id.nunique()
    assert users.set_index("user_id").n_train_items.reindex(n_items.index).eq(n_items).all()

    evals = built.query("select * from fct_eval_interactions")
    cold_users = set(users[users.is_cold].user_id)
    cold_items = set(items[items.is_cold].item_id)
    assert (evals.is_cold_user == evals.user_id.isin(cold_users)).all()
    assert (evals.is_cold_item == evals.item_id.isin(cold_items)).all()
    assert evals.is_cold_item.any() and evals.is_cold_user.any()


def test_in_train_marks_eval_pairs_already_consumed_in_training(built):
    row = built.query(
        f"select in_train from fct_eval_interactions where user_id = {HAND_USER} and item_id = 1000"
    )
    assert row.in_train.tolist() == [True]
    train_pairs = set(
        map(tuple, consumptions(built, WINDOW_START, TRAIN_END)[["user_id", "item_id"]].to_numpy())
    )
    evals = built.query("select user_id, item_id, in_train from fct_eval_interactions")
    expected = [(u, i) in train_pairs for u, i in zip(evals.user_id, evals.item_id, strict=True)]
    assert evals.in_train.tolist() == expected


def test_interaction_weights_follow_the_contract(built):
    facts = built.query(f"select * from fct_interactions where user_id = {HAND_USER} order by item_id")
    by_item = facts.set_index("item_id")
    # item 1000: one consumption (60 s) and one short stream (10 s) in training
    assert by_item.loc[1000, "n_streams"] == 1
    assert by_item.loc[1000, "ms_played_total"] == 70_000
    assert by_item.loc[1001, "n_follows"] == 1 and not by_item.loc[1001, "is_consumed"]
    assert abs(by_item.loc[1001, "weight"] - 0.5) < 1e-9
    assert abs(by_item.loc[2000, "weight"] - 0.6931471805599453) < 1e-9
