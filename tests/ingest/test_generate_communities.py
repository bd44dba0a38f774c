"""gfm generate --tastes communities: taste communities across three types, weakly in the text."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fixtures.small_raw import make_small_raw

from gfm.config import GenerateConfig, ValidationConfig
from gfm.errors import StageError
from ingest.generate import generate
from ingest.manifest import read_manifest
from ingest.raw_io import RawTables, load_raw

COMMUNITIES: dict[str, Any] = {"tastes": "communities"}
SMALL: dict[str, Any] = {
    **COMMUNITIES,
    "users": 300,
    "podcasts": 200,
    "audiobooks": 80,
    "audio_courses": 40,
    "chunk_users": 120,
}
WORD = re.compile(r"[a-z]+")


def _hashes(raw_dir: Path) -> dict[str, str]:
    """Content hash of every data file (all but the manifest, which records its creation time)."""
    return {
        str(p.relative_to(raw_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(raw_dir.rglob("*"))
        if p.is_file() and p.name != "_manifest.json"
    }


def _truth(raw_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(raw_dir / "_truth" / "item_groups.parquet")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RawTables]:
    """A communities batch at the default catalogue size with 2,000 users."""
    raw = tmp_path_factory.mktemp("communities") / "raw"
    generate(GenerateConfig(**COMMUNITIES, users=2000), raw, show_progress=False)
    return raw, load_raw(raw, ValidationConfig())


def _pairs(tables: RawTables, raw: Path) -> pd.DataFrame:
    """Distinct (user, item) pairs with at least one stream, with the item's type and community."""
    ev = tables.interactions
    pairs = ev.loc[ev["event_type"] == "stream", ["user_id", "item_id"]].drop_duplicates()
    items = tables.items[["item_id", "content_type"]].merge(_truth(raw), on="item_id")
    return pairs.merge(items, on="item_id")


def test_same_seed_gives_byte_identical_files(tmp_path):
    generate(GenerateConfig(**SMALL), tmp_path / "a" / "raw", show_progress=False)
    generate(GenerateConfig(**SMALL), tmp_path / "b" / "raw", show_progress=False)
    generate(GenerateConfig(**SMALL, seed=8), tmp_path / "c" / "raw", show_progress=False)
    a, b = _hashes(tmp_path / "a" / "raw"), _hashes(tmp_path / "b" / "raw")
    assert len(a) > 10 and a == b
    assert "_truth/item_groups.parquet" in a
    assert _hashes(tmp_path / "c" / "raw") != a


def test_three_content_types_with_one_clearly_sparser_than_podcasts(batch):
    raw, tables = batch
    assert read_manifest(raw).content_types == ["audio_course", "audiobook", "podcast"]
    assert set(tables.items["content_type"]) == {"podcast", "audiobook", "audio_course"}
    pairs = _pairs(tables, raw)
    per_item = pairs.groupby("content_type").size() / tables.items["content_type"].value_counts()
    assert (
        per_item["podcast"] > 2 * per_item["audiobook"] and per_item["podcast"] > 2 * per_item["audio_course"]
    )
    listeners = pairs.groupby("content_type")["user_id"].nunique()
    assert listeners["podcast"] > listeners["audiobook"] > listeners["audio_course"] > 50


def test_podcast_listeners_take_up_audiobooks_in_the_evaluation_window(batch):
    """The cross-type cold start: podcast history, no audiobook history, then audiobooks."""
    raw, tables = batch
    eval_start = pd.Timestamp(read_manifest(raw).eval_start)
    ev = tables.interactions
    ev = ev[ev["event_type"] == "stream"].merge(tables.items[["item_id", "content_type"]], on="item_id")
    before = ev[ev["event_at"] < eval_start].groupby("content_type")["user_id"].agg(set)
    after = ev[ev["event_at"] >= eval_start].groupby("content_type")["user_id"].agg(set)
    for other in ("audiobook", "audio_course"):
        starters = (after[other] & before["podcast"]) - before[other]
        assert len(starters) >= 15, other


def test_the_manifest_records_the_mode_and_knobs(batch):
    generator = read_manifest(batch[0]).generator
    assert generator is not None
    assert generator["tastes"] == "communities" and generator["text_signal"] == 0.3
    assert generator["content_types"] == 3 and generator["communities"] == 24


def test_the_topics_mode_records_no_communities_knobs(small_raw):
    generator = read_manifest(small_raw).generator
    assert generator is not None and generator["tastes"] == "topics" and generator["topics"] == 8
    assert "text_signal" not in generator and "audio_courses" not in generator


def test_users_items_concentrate_in_few_communities_across_types(batch):
    raw, tables = batch
    pairs = _pairs(tables, raw)
    shuffled = pairs.assign(group_id=np.random.default_rng(0).permutation(pairs["group_id"].to_numpy()))

    def top3_share(p: pd.DataFrame) -> float:
        counts = p.groupby(["user_id", "group_id"]).size()
        totals = p.groupby("user_id").size()
        heavy = totals[totals >= 8].index
        top3 = counts.loc[heavy].groupby(level=0).apply(lambda c: c.nlargest(3).sum())
        return float((top3 / totals.loc[heavy]).mean())

    assert top3_share(pairs) > top3_share(shuffled) + 0.15

    # across types: a user's audiobooks and courses come from the communities of their podcasts
    podcast_groups = pairs[pairs["content_type"] == "podcast"].groupby("user_id")["group_id"].agg(set)
    for other in ("audiobook", "audio_course"):
        rows = pairs[(pairs["content_type"] == other) & pairs["user_id"].isin(podcast_groups.index)]
        share = rows["group_id"].value_counts(normalize=True)  # chance: a community by its size
        hit = [g in podcast_groups[u] for u, g in zip(rows["user_id"], rows["group_id"], strict=True)]
        chance = [share.reindex(list(podcast_groups[u])).fillna(0).sum() for u in rows["user_id"]]
        assert len(rows) > 100
        assert np.mean(hit) > 1.8 * np.mean(chance)


def _excess_mi(items: pd.DataFrame, group: pd.Series) -> tuple[float, float]:
    """MI (nats) of text words and community, minus the same estimate after shuffling communities.

    Also returns the excess MI of genre and community. The shuffled estimate is the estimator's bias
    at this sample size, so an excess near 0 means independence.
    """
    shuffled = pd.Series(np.random.default_rng(1).permutation(group.to_numpy()), index=group.index)
    words = (
        (items["title"] + " " + items["description"]).str.lower().map(lambda t: sorted(set(WORD.findall(t))))
    )

    def mi(labels: pd.Series, g: pd.Series) -> float:
        joint = pd.crosstab(labels, g).to_numpy(float)
        p = joint / joint.sum()
        outer = p.sum(axis=1, keepdims=True) @ p.sum(axis=0, keepdims=True)
        nz = p > 0
        return float((p[nz] * np.log(p[nz] / outer[nz])).sum())

    exploded = pd.DataFrame({"word": words, "g": group, "s": shuffled}).explode("word")
    text = mi(exploded["word"], exploded["g"]) - mi(exploded["word"], exploded["s"])
    genre = mi(items["genre"], group) - mi(items["genre"], shuffled)
    return text, genre


def test_text_signal_sets_how_much_titles_and_genres_reveal_the_community(tmp_path):
    excess = {}
    for signal in (0.0, 0.3, 1.0):
        raw = tmp_path / str(signal) / "raw"
        generate(GenerateConfig(**COMMUNITIES, users=20, text_signal=signal), raw, show_progress=False)
        items = pd.read_parquet(raw / "items").merge(_truth(raw), on="item_id")
        excess[signal] = _excess_mi(items, items["group_id"])
    text0, genre0 = excess[0.0]
    assert abs(text0) < 0.01 and abs(genre0) < 0.02  # independent of the community
    assert excess[0.3][0] > text0 + 0.05 and excess[0.3][1] > genre0 + 0.05
    assert excess[1.0][0] > 2 * excess[0.3][0] and excess[1.0][1] > 2 * excess[0.3][1]


def test_the_truth_file_lists_every_item_once_in_both_modes(tmp_path, batch):
    topics_raw = make_small_raw(tmp_path / "topics")
    for raw in (topics_raw, batch[0]):
        truth = _truth(raw)
        items = pd.read_parquet(raw / "items")
        assert list(truth.columns) == ["item_id", "group_id"]
        assert truth["item_id"].dtype == "int64" and truth["group_id"].dtype == "int64"
        assert truth["item_id"].is_unique
        assert sorted(truth["item_id"]) == sorted(items["item_id"])
    # the topics mode's groups are its topics: one genre per group
    topics = pd.read_parquet(topics_raw / "items").merge(_truth(topics_raw), on="item_id")
    assert (topics.groupby("group_id")["genre"].nunique() == 1).all()
    assert _truth(batch[0])["group_id"].nunique() == 24


def test_the_raw_reader_reads_the_contract_only(batch):
    raw, tables = batch
    assert (raw / "_truth").is_dir()
    assert list(tables.items.columns)[:2] == ["item_id", "content_type"]
    assert len(tables.items) == len(_truth(raw)) == 4100


def test_fewer_content_types(tmp_path):
    for n, expected in ((1, {"podcast"}), (2, {"podcast", "audiobook"})):
        raw = tmp_path / str(n) / "raw"
        generate(GenerateConfig(**SMALL, content_types=n), raw, show_progress=False)
        tables = load_raw(raw, ValidationConfig())
        assert set(tables.items["content_type"]) == expected
        assert len(tables.interactions) > 1000


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"text_signal": 0.5}, "set only with tastes='communities'"),
        ({**COMMUNITIES, "text_signal": 1.5}, "text_signal must be within"),
        ({**COMMUNITIES, "content_types": 4}, "content_types must be 1..3"),
        ({**COMMUNITIES, "communities": 0}, "communities >= 1"),
        (
            {**COMMUNITIES, "podcasts": 0, "audiobooks": 0, "audio_courses": 0},
            "at least one user and one item",
        ),
    ],
)
def test_bad_knobs_are_refused(knobs, message):
    with pytest.raises(StageError, match=message):
        generate(GenerateConfig.model_validate(knobs), Path("unused"), show_progress=False)
