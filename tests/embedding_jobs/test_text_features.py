from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hgnn_fixtures import tiny_config, write_marts

from embedding_jobs.export import read_vectors
from embedding_jobs.text_features import build_text_features, item_texts, text_features_path
from gfm.errors import DimensionError, NotFoundError, StageError


def test_real_minilm_gives_384d_unit_vectors_for_every_item_offline(tiny_data: Path) -> None:
    cfg = tiny_config(tiny_data)
    ids, vectors = read_vectors(text_features_path(cfg))
    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet")
    assert sorted(ids.tolist()) == sorted(items["item_id"].tolist())
    assert vectors.shape == (len(items), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_texts_are_closer_than_unrelated_ones(tiny_data: Path) -> None:
    cfg = tiny_config(tiny_data)
    ids, vectors = read_vectors(text_features_path(cfg))
    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet").set_index("item_id").loc[ids]
    crime = vectors[(items["genre"] == "crime").to_numpy()]
    food = vectors[(items["genre"] == "food").to_numpy()]
    assert (crime @ crime.T).mean() > (crime @ food.T).mean() + 0.1


def test_rerun_embeds_nothing_and_changed_title_reembeds_exactly_one(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_config(tiny_data)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("text features must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    again = build_text_features(cfg)
    assert (again.n_embedded, again.n_cached) == (0, again.n_items)

    items_file = cfg.marts_dir / "dim_items.parquet"
    items = pd.read_parquet(items_file)
    items.loc[0, "title"] = "an entirely different title about gardening"
    items.to_parquet(items_file, index=False)
    before = dict(zip(*read_vectors(again.path), strict=True))
    changed = build_text_features(cfg)
    assert (changed.n_embedded, changed.n_cached) == (1, changed.n_items - 1)
    after = dict(zip(*read_vectors(changed.path), strict=True))
    first = int(items.loc[0, "item_id"])
    assert not np.allclose(before[first], after[first])
    other = int(items.loc[1, "item_id"])
    np.testing.assert_array_equal(before[other], after[other])


def test_dimension_mismatch_between_model_and_config_is_a_clear_error(tiny_data: Path) -> None:
    cfg = tiny_config(tiny_data)
    cfg.text.dim = 128
    with pytest.raises(DimensionError, match=r"384-d vectors but text\.dim is 128"):
        build_text_features(cfg)


def test_missing_model_path_and_missing_marts_are_typed_errors(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path)
    with pytest.raises(StageError, match="dim_items"):
        build_text_features(cfg)

    write_marts(cfg.marts_dir)
    cfg.text.model_path = str(tmp_path / "no-such-model")
    with pytest.raises(NotFoundError, match="no-such-model"):
        build_text_features(cfg)


def test_item_text_joins_title_description_and_genre_skipping_empty_parts() -> None:
    items = pd.DataFrame({"title": ["T", "U"], "description": ["D", None], "genre": ["g", ""]})
    assert item_texts(items).tolist() == ["T. D. genre: g", "U"]
