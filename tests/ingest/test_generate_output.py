"""gfm generate's files: deterministic, chunked, partitioned, swapped in atomically, sized as promised."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from fixtures.small_raw import make_small_raw

from gfm.config import GenerateConfig, ValidationConfig
from gfm.errors import StageError
from ingest.generate import generate
from ingest.raw_io import load_raw

generate_module = importlib.import_module("ingest.generate")  # the package exports a function of that name
SMALL = {"users": 200, "podcasts": 120, "audiobooks": 40, "topics": 6}


def _data_files(raw_dir):
    return {p.relative_to(raw_dir): p.read_bytes() for p in sorted(raw_dir.rglob("*.parquet"))}


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = make_small_raw(tmp_path / "a", **SMALL)
    b = make_small_raw(tmp_path / "b", **SMALL)
    c = make_small_raw(tmp_path / "c", **SMALL, seed=8)
    files_a, files_b = _data_files(a), _data_files(b)
    assert files_a and files_a == files_b
    assert _data_files(c) != files_a


def test_users_are_simulated_in_chunks_written_as_they_go(tmp_path):
    cfg = GenerateConfig(**SMALL, chunk_users=70)
    counts = generate(cfg, tmp_path / "raw", show_progress=False)
    users_parts = sorted(p.name for p in (tmp_path / "raw" / "users").iterdir())
    assert users_parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    partitions = list((tmp_path / "raw" / "interactions").iterdir())
    assert all(p.name.startswith("event_date=2026-") for p in partitions)
    assert 95 <= len(partitions) <= 104
    tables = load_raw(tmp_path / "raw", ValidationConfig())
    assert counts == {name: len(df) for name, df in tables.as_dict().items()}
    assert tables.interactions["event_id"].is_unique
    assert sorted(tables.users["user_id"]) == list(range(1, 201))


def test_default_scale_is_a_few_hundred_thousand_events(tmp_path):
    counts = generate(GenerateConfig(), tmp_path / "raw", show_progress=False)
    assert counts["users"] == 4000 and counts["items"] == 3700
    assert 200_000 <= counts["interactions"] <= 400_000


def test_a_failed_run_leaves_the_previous_batch_untouched(tmp_path, monkeypatch):
    raw = make_small_raw(tmp_path, **SMALL)
    before = _data_files(raw)

    def explode(*args, **kwargs):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(generate_module, "simulate_chunk", explode)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate(GenerateConfig(**SMALL, seed=99), raw, show_progress=False)
    assert _data_files(raw) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # no temp folder left behind


def test_rerun_replaces_the_batch(tmp_path):
    raw = make_small_raw(tmp_path, users=300)
    make_small_raw(tmp_path, **SMALL)
    assert len(load_raw(raw, ValidationConfig()).users) == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_bad_sizes_are_refused():
    with pytest.raises(StageError, match="at least one user"):
        generate(GenerateConfig(users=0), Path("unused"), show_progress=False)
    with pytest.raises(StageError, match="days >= 15"):
        generate(GenerateConfig(days=5), Path("unused"), show_progress=False)


def test_more_topics_than_vocabularies_and_podcasts_only(tmp_path):
    counts = generate(
        GenerateConfig(users=100, podcasts=80, audiobooks=0, topics=30), tmp_path / "raw", show_progress=False
    )
    tables = load_raw(tmp_path / "raw", ValidationConfig())
    assert counts["interactions"] > 0
    assert set(tables.items["content_type"]) == {"podcast"}
    assert tables.items["title"].str.len().min() > 5
