"""Publishing versioned embeddings, reading them back through EmbeddingClient, and materialize."""

from __future__ import annotations

import numpy as np
import pytest

from gfm.config import Config
from gfm.errors import DimensionError, InvalidInputError, NotFoundError

V1 = "v20261001t000000_aaaaaa"
V2 = "v20261002t000000_bbbbbb"
DIM = 128  # HGNNConfig.out_dim and TwoTowerConfig.dim defaults


def vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def published(synthetic_store: Config) -> Config:
    from feature_repo.store import publish_embeddings

    cfg = synthetic_store
    publish_embeddings(
        cfg, model="hgnn", entity="item", version=V1, ids=np.arange(1, 41), vectors=vectors(40, 1)
    )
    publish_embeddings(
        cfg, model="hgnn", entity="item", version=V2, ids=np.arange(1, 21), vectors=vectors(20, 2)
    )
    for entity, n, seed in (("item", 40, 3), ("user", 50, 4)):
        ids = np.arange(1, n + 1)
        publish_embeddings(
            cfg, model="two_tower", entity=entity, version=V2, ids=ids, vectors=vectors(n, seed)
        )
    return cfg


@pytest.fixture(scope="module")
def client(published: Config):
    from feature_repo.client import EmbeddingClient

    return EmbeddingClient(published)


def test_client_returns_current_version_and_a_pinned_older_one(client) -> None:
    assert client.current_versions() == {"hgnn": V2, "two_tower": V2}
    assert client.list_versions() == {"hgnn": [V1, V2], "two_tower": [V2]}
    current = client.get_item_embeddings([1, 20])
    assert current.version == V2
    np.testing.assert_allclose(current.vectors, vectors(20, 2)[[0, 19]], rtol=1e-6)
    pinned = client.get_item_embeddings([1, 40], version=V1)
    np.testing.assert_allclose(pinned.vectors, vectors(40, 1)[[0, 39]], rtol=1e-6)


def test_unknown_ids_come_back_missing_not_as_errors(client) -> None:
    result = client.get_item_embeddings([3, 30, 999])  # V2 has items 1..20 only
    assert result.found.tolist() == [True, False, False]
    assert result.missing.tolist() == [30, 999]
    assert np.isnan(result.vectors[1:]).all() and np.isfinite(result.vectors[0]).all()
    assert client.get_user_embedding(999) is None
    user = client.get_user_embedding(7)
    np.testing.assert_allclose(user, vectors(50, 4)[6], rtol=1e-6)


def test_unknown_model_or_version_is_a_clear_error(client) -> None:
    with pytest.raises(NotFoundError, match="unknown model 'bert'"):
        client.get_item_embeddings([1], model="bert")
    with pytest.raises(NotFoundError, match="published versions: v2026"):
        client.get_item_embeddings([1], version="v19990101t000000_000000")
    with pytest.raises(NotFoundError, match="no published user vectors"):
        client.get_user_embedding(1, model="two_tower", version="v20261001t000000_aaaaaa")
    with pytest.raises(NotFoundError, match="unknown feature view"):
        client.get_features("item", [1], "no_such_view")


def test_online_features_for_materialized_views(client) -> None:
    values = client.get_features("item", [1, 2, 999], "item_stats")
    assert values["item_id"].tolist() == [1, 2, 999]
    assert values["n_streams_total"][0] is not None and values["n_streams_total"][2] is None


def test_feature_services_group_each_version(published: Config) -> None:
    from feature_repo.store import get_store

    services = {s.name: s for s in get_store(published).list_feature_services()}
    assert {f"embeddings_{V1}", f"embeddings_{V2}", f"two_tower_training_{V2}"} <= set(services)
    outputs = {p.name for p in services[f"embeddings_{V2}"].feature_view_projections}
    assert outputs == {
        f"hgnn_item_embeddings_{V2}",
        f"two_tower_item_embeddings_{V2}",
        f"two_tower_user_embeddings_{V2}",
    }
    inputs = {p.name for p in services[f"two_tower_training_{V2}"].feature_view_projections}
    assert {
        "user_profile",
        "user_activity",
        "item_profile",
        "item_stats",
        f"hgnn_item_embeddings_{V2}",
    } == inputs


def test_a_team_pins_a_version_through_its_feature_service(published: Config) -> None:
    import pandas as pd

    from feature_repo.store import get_training_frame

    rows = pd.DataFrame(
        {
            "user_id": [1, 2],
            "item_id": [5, 6],
            "event_timestamp": pd.to_datetime(["2026-10-16", "2026-10-12"], utc=True),
        }
    )
    frame = get_training_frame(published, rows, f"two_tower_training_{V2}")
    got = np.stack(frame[f"hgnn_item_embeddings_{V2}__vector"].to_list())
    np.testing.assert_allclose(got, vectors(20, 2)[[4, 5]], rtol=1e-6)
    assert frame["user_activity__n_streams_90d"].notna().all()


@pytest.mark.parametrize(
    ("ids", "vecs", "error", "match"),
    [
        (np.arange(3), np.full((3, DIM), np.nan, dtype=np.float32), DimensionError, "NaN or Inf"),
        (np.arange(3), np.ones((3, 64), dtype=np.float32), DimensionError, r"shape \(3, 128\)"),
        (np.array([1, 1, 2]), np.ones((3, DIM), dtype=np.float32), InvalidInputError, "unique"),
    ],
    ids=["nan", "wrong-dim", "duplicate-ids"],
)
def test_bad_vectors_are_refused_before_reaching_the_online_store(
    published: Config, ids, vecs, error, match
) -> None:
    from feature_repo.store import get_store, publish_embeddings, read_catalog

    bad = "v20261003t000000_cccccc"
    vecs = vecs.copy()
    vecs[-1, 0] = np.inf if error is DimensionError and vecs.shape[1] == DIM else vecs[-1, 0]
    with pytest.raises(error, match=match):
        publish_embeddings(published, model="hgnn", entity="item", version=bad, ids=ids, vectors=vecs)
    assert not list((published.feast_dir / "published").glob(f"*{bad}*"))
    assert bad not in read_catalog(published.feast_dir).versions("hgnn")
    store = get_store(published)
    assert f"hgnn_item_embeddings_{bad}" not in {v.name for v in store.list_feature_views()}


def test_materialize_twice_is_idempotent(published: Config) -> None:
    from feature_repo.client import EmbeddingClient
    from feature_repo.store import materialize

    before = EmbeddingClient(published).get_features("user", [1, 2, 3], "user_activity")
    again = materialize(published)
    assert again.intervals == {}
    assert {"user_activity", "item_stats", f"hgnn_item_embeddings_{V1}"} <= set(again.up_to_date)
    after = EmbeddingClient(published).get_features("user", [1, 2, 3], "user_activity")
    assert before.keys() == after.keys()
    for name in before:
        assert before[name].tolist() == after[name].tolist()


def test_reapply_registers_published_versions_again(published: Config) -> None:
    from feature_repo.store import apply_definitions

    names = apply_definitions(published)
    assert f"hgnn_item_embeddings_{V1}" in names and f"two_tower_training_{V2}" in names
    only_v1 = apply_definitions(published, versions=[V1])
    assert f"embeddings_{V1}" in only_v1 and f"embeddings_{V2}" not in only_v1
