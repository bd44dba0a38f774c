"""Definitions follow the data: fields from the Parquet schema, names per version, catalog rules."""

from __future__ import annotations

import pyarrow as pa
import pytest

from feature_repo.store import catalog
from feature_repo.store.schema import feast_dtype
from gfm.errors import NotFoundError, StageError


def test_per_content_type_columns_become_fields(tmp_path) -> None:
    from fixtures.synthetic_marts import SyntheticMarts, write_synthetic_marts

    from feature_repo.store.definitions import core_feature_views

    write_synthetic_marts(tmp_path, SyntheticMarts(content_types=("audiobook", "music", "podcast")))
    views = {v.name: v for v in core_feature_views(tmp_path, ttl_days=90)}
    activity = {f.name for f in views["user_activity"].features}
    assert {
        "n_streams_90d_audiobook",
        "n_streams_90d_music",
        "n_streams_90d_podcast",
        "n_follows_90d",
    } <= activity
    assert not activity & {"user_id", "feature_at", "created_at"}
    assert views["user_activity"].ttl.days == 90 and views["user_profile"].ttl.total_seconds() == 0
    assert [e for e in views["item_stats"].entities] == ["item"]


def test_missing_marts_name_the_stage_to_run(tmp_path) -> None:
    from feature_repo.store.definitions import core_feature_views

    with pytest.raises(StageError, match="gfm transform"):
        core_feature_views(tmp_path, ttl_days=90)


def test_arrow_types_map_to_feast_types() -> None:
    from feast import types as ft

    assert feast_dtype(pa.int64()) == ft.Int64
    assert feast_dtype(pa.float32()) == ft.Float32
    assert feast_dtype(pa.list_(pa.float32())) == ft.Array(ft.Float32)
    assert feast_dtype(pa.timestamp("us", tz="UTC")) == ft.UnixTimestamp
    with pytest.raises(StageError, match="'m'"):
        feast_dtype(pa.map_(pa.string(), pa.int64()), "m")


def test_embedding_views_are_named_per_model_entity_and_version() -> None:
    from gfm.naming import embedding_view_name

    assert embedding_view_name("hgnn", "item", "v1") == "hgnn_item_embeddings_v1"
    assert embedding_view_name("two_tower", "user", "v1") == "two_tower_user_embeddings_v1"
    assert embedding_view_name("text", "item", "minilm") == "item_text_embedding"


def entry(version: str, entity: str = "item", model: str = "hgnn") -> catalog.Published:
    return catalog.Published(
        model=model, entity=entity, version=version, path="p", dim=4, rows=1, created_at="t"
    )


def test_catalog_tracks_the_current_version_atomically(tmp_path) -> None:
    catalog.record(tmp_path, entry("v1"))
    catalog.record(tmp_path, entry("v2"), make_current=False)
    cat = catalog.read_catalog(tmp_path)
    assert cat.current == {"hgnn": "v1"} and cat.versions("hgnn") == ["v1", "v2"]
    assert cat.resolve("hgnn", "item", None).version == "v1"
    assert cat.resolve("hgnn", "item", "v2").version == "v2"
    catalog.record(tmp_path, entry("v2"))
    assert catalog.read_catalog(tmp_path).current == {"hgnn": "v2"}
    assert not list((tmp_path / "published").glob(".catalog-*"))  # no temp files left behind


def test_catalog_resolution_errors_are_not_found(tmp_path) -> None:
    cat = catalog.read_catalog(tmp_path)
    with pytest.raises(NotFoundError, match="no published version"):
        cat.resolve("hgnn", "item", None)
    with pytest.raises(NotFoundError, match="unknown model"):
        cat.resolve("word2vec", "item", None)
