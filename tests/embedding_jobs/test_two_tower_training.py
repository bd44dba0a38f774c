"""train_two_tower end to end on a tiny world: exports, normalisation, determinism, learning.

Fast tests use a pandas point-in-time double of the Feast retrieval; the slow test beside them
runs the real Feast retrieval (DuckDB offline store) and checks the double agrees with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

from embedding_jobs.export import read_vectors
from embedding_jobs.train_two_tower import export_two_tower, train_two_tower

V1, V2, V3 = "v20261017t000001_aaaaaa", "v20261017t000002_bbbbbb", "v20261017t000003_cccccc"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    cfg = build_world(tmp_path_factory.mktemp("tt"))
    with one_thread():
        first = train_two_tower(cfg, V1, HGNN_VERSION, retrieve=pandas_point_in_time)
        second = train_two_tower(cfg, V2, HGNN_VERSION, retrieve=pandas_point_in_time)
    return cfg, first, second


def test_exports_cover_every_user_and_item_with_128d_unit_vectors(world):
    cfg, first, _ = world
    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet")["item_id"]
    users = pd.read_parquet(cfg.marts_dir / "dim_users.parquet")["user_id"]
    item_ids, item_vecs = read_vectors(first.items_path)
    user_ids, user_vecs = read_vectors(first.users_path, "user_id")
    assert sorted(item_ids.tolist()) == sorted(items.tolist())
    assert sorted(user_ids.tolist()) == sorted(users.tolist())  # cold and late users included
    assert item_vecs.shape[1] == user_vecs.shape[1] == 128
    assert np.allclose(np.linalg.norm(item_vecs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(np.linalg.norm(user_vecs, axis=1), 1.0, atol=1e-5)
    card = (first.checkpoint / "card.json").read_text()
    assert HGNN_VERSION in card and '"seeds"' in card


def test_same_seed_gives_identical_vectors(world):
    _, first, second = world
    assert first.metrics["epoch_losses"] == second.metrics["epoch_losses"]
    assert np.array_equal(read_vectors(first.items_path)[1], read_vectors(second.items_path)[1])
    assert np.array_equal(
        read_vectors(first.users_path, "user_id")[1], read_vectors(second.users_path, "user_id")[1]
    )


def test_retrieval_in_chunks_trains_the_same_model(world):
    cfg, first, _ = world
    calls = []

    def counted(cfg_, entity_df, features):
        calls.append(len(entity_df))
        return pandas_point_in_time(cfg_, entity_df, features)

    chunked = cfg.model_copy(update={"two_tower": cfg.two_tower.model_copy(update={"retrieval_chunk": 37})})
    with one_thread():
        result = train_two_tower(chunked, "v20261017t000007_c0ffee", HGNN_VERSION, retrieve=counted)
    n_examples = int(first.metrics["n_examples"])
    assert calls[: -(-n_examples // 37)] == [37] * (n_examples // 37) + (
        [n_examples % 37] if n_examples % 37 else []
    )
    # the same examples and features: the same model, up to float summation order (a chunked
    # column is contiguous where the whole frame's was a strided view)
    np.testing.assert_allclose(result.metrics["epoch_losses"], first.metrics["epoch_losses"], rtol=1e-5)
    np.testing.assert_allclose(
        read_vectors(result.items_path)[1], read_vectors(first.items_path)[1], atol=1e-4
    )
    np.testing.assert_allclose(
        read_vectors(result.users_path, "user_id")[1], read_vectors(first.users_path, "user_id")[1], atol=1e-4
    )


def test_training_lowers_the_loss_and_ranks_own_topic_items_first(world):
    cfg, first, _ = world
    # three fixed epochs (the fixture's run may choose one: the HGNN path starts near a solution)
    fixed = cfg.model_copy(update={"two_tower": cfg.two_tower.model_copy(update={"val_days": 0})})
    with one_thread():
        result = train_two_tower(
            fixed, "v20261017t000009_999999", HGNN_VERSION, retrieve=pandas_point_in_time
        )
    losses = result.metrics["epoch_losses"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    user_ids, users = read_vectors(first.users_path, "user_id")
    evals = pd.read_parquet(cfg.marts_dir / "fct_eval_interactions.parquet")
    item_ids, items = read_vectors(first.items_path)
    pos = pd.Series(range(len(item_ids)), index=item_ids)
    upos = pd.Series(range(len(user_ids)), index=user_ids)
    relevant = (users[upos[evals["user_id"]]] * items[pos[evals["item_id"]]]).sum(axis=1)
    random_items = items[np.random.default_rng(0).integers(0, len(items), len(evals))]
    assert relevant.mean() > (users[upos[evals["user_id"]]] * random_items).sum(axis=1).mean()


def test_reexport_from_the_checkpoint_reproduces_the_vectors(world):
    cfg, first, _ = world
    before = read_vectors(first.users_path, "user_id")[1].copy()
    with one_thread():
        paths = export_two_tower(cfg, V1, retrieve=pandas_point_in_time)
    assert paths == [first.items_path, first.users_path]
    assert np.allclose(read_vectors(first.users_path, "user_id")[1], before, atol=1e-6)


@pytest.mark.parametrize(
    ("setting", "before_it", "now"), [("hgnn_skip", False, True), ("history_vectors", "text_hgnn", "hgnn")]
)
def test_a_checkpoint_saved_before_a_setting_existed_reexports_as_trained(tmp_path, setting, before_it, now):
    """Its stored settings lack the setting (default now different): it is rebuilt as it was trained."""
    import torch

    from embedding_jobs.checkpoint import MODEL_FILE
    from gfm.naming import checkpoint_dir

    cfg = build_world(tmp_path)
    cfg.two_tower.epochs = 1
    setattr(cfg.two_tower, setting, before_it)
    with one_thread():
        trained = train_two_tower(cfg, V3, HGNN_VERSION, retrieve=pandas_point_in_time)
        items, users = (
            read_vectors(trained.items_path)[1].copy(),
            read_vectors(trained.users_path, "user_id")[1].copy(),
        )
        model_file = checkpoint_dir(cfg.models_dir, "two_tower", V3) / MODEL_FILE
        state = torch.load(model_file, weights_only=True)
        del state["two_tower"][setting]  # as saved before the setting existed
        torch.save(state, model_file)
        setattr(cfg.two_tower, setting, now)
        export_two_tower(cfg, V3, retrieve=pandas_point_in_time)
    assert np.allclose(read_vectors(trained.items_path)[1], items, atol=1e-6)
    assert np.allclose(read_vectors(trained.users_path, "user_id")[1], users, atol=1e-6)


def test_without_hgnn_the_2t_baseline_needs_no_hgnn_export(world, tmp_path):
    cfg, _, _ = world
    cfg = cfg.model_copy(
        update={"two_tower": cfg.two_tower.model_copy(update={"use_hgnn": False, "epochs": 1})}
    )
    with one_thread():
        result = train_two_tower(cfg, V3, "v20990101t000000_ffffff", retrieve=pandas_point_in_time)
    assert result.hgnn_version is None
    assert read_vectors(result.items_path)[1].shape[1] == 128


@pytest.mark.slow
def test_real_feast_retrieval_matches_the_double_and_trains(tmp_path):
    from embedding_jobs.data.interactions import feature_refs, fetch_features
    from feature_repo.store import apply_definitions, get_training_frame

    cfg = build_world(tmp_path)
    apply_definitions(cfg)
    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    entity = facts.loc[facts["is_consumed"], ["user_id", "item_id", "first_event_at"]].rename(
        columns={"first_event_at": "event_timestamp"}
    )
    real = fetch_features(cfg, entity, feature_refs(cfg), get_training_frame)
    double = fetch_features(cfg, entity, feature_refs(cfg), pandas_point_in_time)
    for col in ("country", "age_bucket", "n_streams_90d", "n_follows_90d", "genre", "n_listeners_total"):
        assert real[col].astype(str).tolist() == double[col].astype(str).tolist(), col
    with one_thread():
        result = train_two_tower(cfg, V1, HGNN_VERSION)
    assert read_vectors(result.users_path, "user_id")[1].shape == (60, 128)


def test_epoch_count_is_chosen_on_the_last_days_of_the_training_window(world, tmp_path):
    cfg, first, _ = world
    # the fixture's run selected its epochs on the most recent examples, then refitted on all
    assert first.metrics["n_val_examples"] >= cfg.two_tower.batch_size
    recalls = first.metrics["val_recalls"]
    assert 1 <= len(recalls) <= cfg.two_tower.epochs and all(0.0 <= r <= 1.0 for r in recalls)
    assert first.metrics["epochs"] == 1 + int(np.argmax(recalls))
    assert len(first.metrics["epoch_losses"]) == first.metrics["epochs"]
    # val_days=0 switches the selection off: exactly `epochs` epochs, no validation losses
    off = cfg.model_copy(update={"two_tower": cfg.two_tower.model_copy(update={"val_days": 0, "epochs": 2})})
    with one_thread():
        result = train_two_tower(off, "v20261017t000004_dddddd", HGNN_VERSION, retrieve=pandas_point_in_time)
    assert "val_recalls" not in result.metrics and len(result.metrics["epoch_losses"]) == 2


def test_without_val_days_a_random_share_of_the_examples_chooses_the_epochs(world):
    cfg, _, _ = world
    tc = cfg.two_tower.model_copy(update={"val_days": 0, "val_share": 0.3, "epochs": 3, "patience": 0})
    with one_thread():
        result = train_two_tower(
            cfg.model_copy(update={"two_tower": tc}),
            "v20261017t000009_abcdef",
            HGNN_VERSION,
            retrieve=pandas_point_in_time,
        )
    n = result.metrics["n_examples"]
    assert result.metrics["n_val_examples"] == round(0.3 * n)
    recalls = result.metrics["val_recalls"]
    assert len(recalls) == 3 and result.metrics["epochs"] == 1 + int(np.argmax(recalls))
    # the selection run trained on the other 70% for 3 epochs, the refit on all for the chosen count
    assert result.metrics["trained_examples"] == (n - round(0.3 * n)) * 3 + n * result.metrics["epochs"]


def test_the_random_slice_is_seeded_exact_and_spread_over_the_window():
    from embedding_jobs.two_tower_examples import random_slice

    held = random_slice(1000, 0.1, seed=17)
    assert held.sum() == 100 and np.array_equal(held, random_slice(1000, 0.1, seed=17))
    assert not np.array_equal(held, random_slice(1000, 0.1, seed=18))
    # not a block: drawn from every part of the (time-ordered) examples
    assert all(held[lo : lo + 250].sum() > 0 for lo in range(0, 1000, 250))
    assert random_slice(1000, 0.0, seed=17).sum() == 0


def test_the_window_protocol_scores_users_as_of_the_slice_start(world):
    cfg, _, _ = world
    asked = []

    def spy(cfg_, entity_df, features):
        asked.append(entity_df.copy())
        return pandas_point_in_time(cfg_, entity_df, features)

    window = cfg.model_copy(update={"two_tower": cfg.two_tower.model_copy(update={"val_protocol": "window"})})
    with one_thread():
        result = train_two_tower(window, "v20261017t000008_abcabc", HGNN_VERSION, retrieve=spy)
    recalls = result.metrics["val_recalls"]
    assert all(0.0 <= r <= 1.0 for r in recalls) and result.metrics["epochs"] == 1 + int(np.argmax(recalls))
    # one retrieval of user features only, one row per user who consumed in the slice, as of its
    # start (or their sign-up, if later)
    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    from feature_repo.store.materialize import training_window_end

    start = pd.Timestamp(training_window_end(cfg.marts_dir)) - pd.Timedelta(days=cfg.two_tower.val_days)
    consumed = facts.loc[facts["is_consumed"].astype(bool)]
    first_seen = pd.to_datetime(consumed["first_event_at"], utc=True)
    in_slice = sorted(consumed.loc[first_seen >= start, "user_id"].unique().tolist())
    user_only = [f for f in asked if "item_id" not in f.columns]
    validation_users = next(f for f in user_only if sorted(f["user_id"].tolist()) == in_slice)
    assert (pd.to_datetime(validation_users["event_timestamp"], utc=True) > start).all()
