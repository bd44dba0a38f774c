"""gfm import maps MovieLens and the LightGCN Yelp2018 split into the raw contract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gfm.config import ValidationConfig
from gfm.errors import RawInputError
from ingest.lightgcn import import_lightgcn, read_pairs
from ingest.manifest import read_manifest
from ingest.movielens import MIN_EVAL_USERS, import_movielens
from ingest.raw_io import load_raw

pytestmark = pytest.mark.shared_data


SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # as tests/conftest.py


@pytest.fixture(scope="module")
def movielens(tmp_path_factory):
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    raw = tmp_path_factory.mktemp("ml") / "raw"
    counts = import_movielens(SHARED_DATA / "movielens_ml_latest_small", raw)
    return raw, counts, load_raw(raw, ValidationConfig())


def test_movielens_maps_ratings_and_tags_to_events(movielens):
    _, counts, tables = movielens
    ev = tables.interactions
    assert counts == {"interactions": 100_836 + 3_683, "items": 9_742, "users": 610}
    types = ev["event_type"].value_counts()
    assert types["follow"] == 3_683
    assert types["stream"] + types["preview"] == 100_836
    streams = ev[ev["event_type"] == "stream"]
    assert streams["ms_played"].between(84 * 60_000, 120 * 60_000).all()
    assert (ev.loc[ev["event_type"] != "stream", "ms_played"] == 0).all()
    assert ev["event_id"].is_unique
    assert ev["event_at"].min() == pd.Timestamp("1996-03-29 18:36:55Z")


def test_movielens_items_carry_title_genres_and_tags(movielens):
    _, _, tables = movielens
    items = tables.items.set_index("item_id")
    toy_story = items.loc[1]
    assert toy_story["title"] == "Toy Story (1995)"
    assert toy_story["content_type"] == "animation"
    assert toy_story["description"].startswith("Genres: Adventure, Animation, Children, Comedy, Fantasy.")
    assert "pixar" in toy_story["description"]
    assert toy_story["published_at"] == pd.Timestamp("1995-01-01", tz="UTC")
    assert set(items["content_type"]) == {"animation", "documentary", "feature_film"}
    assert (items["content_type"] == "animation").sum() == 611
    users = tables.users
    assert set(users["country"]) == {"unknown"} and set(users["age_bucket"]) == {"unknown"}
    first = tables.interactions.groupby("user_id")["event_at"].min()
    assert (users.set_index("user_id")["signup_at"] == first).all()


def test_movielens_split_gives_at_least_100_evaluated_users(movielens):
    raw, _, tables = movielens
    manifest = read_manifest(raw)
    assert manifest.source == "movielens" and not manifest.fixed_split
    assert manifest.suggested_split.train_days is None
    ev = tables.interactions
    in_eval = ev[(ev["event_type"] == "stream") & (ev["event_at"] >= pd.Timestamp(manifest.eval_start))]
    assert in_eval["user_id"].nunique() >= MIN_EVAL_USERS
    assert ev["event_at"].max() < pd.Timestamp(manifest.window_end)


def test_lightgcn_keeps_the_published_split_as_a_fixed_time_split(shared_data, tmp_path):
    src = shared_data / "yelp2018_lightgcn"
    counts = import_lightgcn(src, tmp_path / "raw")
    assert counts == {"interactions": 1_561_406, "items": 38_048, "users": 31_668}
    manifest = read_manifest(tmp_path / "raw")
    assert manifest.fixed_split and manifest.suggested_split.eval_days == 14
    assert manifest.content_types == ["business"]
    ev = load_raw(tmp_path / "raw", ValidationConfig()).interactions
    is_test = ev["event_at"] >= pd.Timestamp(manifest.eval_start)
    assert is_test.sum() == 324_147
    assert ev.loc[is_test, "event_id"].str.startswith("te").all()
    assert ev.loc[~is_test, "event_id"].str.startswith("tr").all()
    test_users, test_items = read_pairs(src / "test.txt")
    got = ev.loc[is_test, ["user_id", "item_id"]].sort_values(["user_id", "item_id"]).to_numpy()
    want = pd.DataFrame({"u": test_users, "i": test_items}).sort_values(["u", "i"]).to_numpy()
    assert (got == want).all()
    assert ev["event_at"].min() >= pd.Timestamp(manifest.window_start)


def test_read_pairs_parses_lines_and_names_a_bad_token(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("0 5 6 7\n1\n2 9\n")
    users, items = read_pairs(good)
    assert users.tolist() == [0, 0, 0, 2] and items.tolist() == [5, 6, 7, 9]
    bad = tmp_path / "bad.txt"
    bad.write_text("0 5\n1 x7\n")
    with pytest.raises(RawInputError, match="line 2") as info:
        read_pairs(bad)
    assert info.value.file == str(bad)


def test_missing_source_folder_is_a_clear_error(tmp_path):
    with pytest.raises(RawInputError, match="MovieLens folder not found"):
        import_movielens(tmp_path / "nope", tmp_path / "raw")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "train.txt").write_text("0 1\n")
    with pytest.raises(RawInputError, match="LightGCN file missing") as info:
        import_lightgcn(tmp_path / "half", tmp_path / "raw")
    assert info.value.file.endswith("test.txt")
