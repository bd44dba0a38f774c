"""The raw gate on real Great Expectations: a clean batch passes, a corrupted one fails precisely."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fixtures.raw_batch import NOW, clean_frames, manifest, write_raw_batch

from gfm.config import Config, GenerateConfig
from ingest.manifest import read_manifest
from ingest.raw_io import RawTables, load_raw
from validation.gates import run_raw_gate
from validation.results import GateFailed

REPO = Path(__file__).resolve().parents[2]


def _tables(frames=None) -> RawTables:
    frames = clean_frames() if frames is None else frames
    return RawTables(**frames)


def test_clean_batch_passes_and_writes_data_docs_and_json(tmp_path: Path):
    cfg = Config(data_dir=tmp_path / "data")
    before = set(REPO.iterdir())

    result = run_raw_gate(_tables(), manifest(), cfg, now=NOW)

    assert result.success and result.stage == "raw"
    assert len(result.expectations) > 30
    assert result.row_counts == {"interactions": 400, "items": 30, "users": 40}
    docs = Path(result.docs_path)
    assert docs.is_file() and docs.is_relative_to(cfg.reports_dir / "validation")
    assert any(docs.parent.rglob("*interactions.html"))
    record = json.loads(Path(result.summary_path).read_text())
    assert record["success"] is True and record["stage"] == "raw"
    assert json.loads((cfg.reports_dir / "validation" / "raw-latest.json").read_text()) == record
    assert set(REPO.iterdir()) == before  # GX wrote nothing into the repository


def test_corrupted_batch_fails_with_the_right_expectations_and_examples(tmp_path: Path):
    cfg = Config(data_dir=tmp_path / "data")
    frames = clean_frames()
    events = frames["interactions"]
    events.loc[[7, 8], "item_id"] = 424242
    events.loc[[1, 2, 3], "ms_played"] = -5

    with pytest.raises(GateFailed) as info:
        run_raw_gate(_tables(frames), manifest(), cfg, now=NOW)

    failed = {(f.column, f.name): f for f in info.value.result.failures}
    assert set(failed) == {
        ("item_id", "expect_column_values_to_be_null"),
        ("ms_played", "expect_column_values_to_be_between"),
    }
    unknown = failed["item_id", "expect_column_values_to_be_null"]
    assert (unknown.table, unknown.unexpected_count, unknown.examples) == ("interactions", 2, ["424242"])
    assert failed["ms_played", "expect_column_values_to_be_between"].examples == ["-5"]
    message = str(info.value)
    assert "interactions" in message and "'item_id'" in message and "2 of 400 rows" in message
    assert "Data Docs:" in message
    record = json.loads((cfg.reports_dir / "validation" / "raw-latest.json").read_text())
    assert record["success"] is False


def test_wrong_dtype_fails_the_schema_expectation(tmp_path: Path):
    cfg = Config(data_dir=tmp_path / "data")
    frames = clean_frames()
    frames["users"]["signup_at"] = frames["users"]["signup_at"].dt.tz_localize(None)  # naive, not UTC

    with pytest.raises(GateFailed) as info:
        run_raw_gate(_tables(frames), manifest(), cfg, now=NOW)

    (failure,) = info.value.result.failures
    assert (failure.table, failure.column, failure.name) == (
        "users",
        "signup_at",
        "expect_column_dtype_to_be_in",
    )
    assert failure.examples == ["datetime64[ns]"]


def test_a_generated_batch_read_by_load_raw_passes(tmp_path: Path):
    cfg = Config(data_dir=tmp_path / "data")
    from ingest.generate import generate

    generate(GenerateConfig(users=150, podcasts=60, audiobooks=30, days=20), cfg.raw_dir, show_progress=False)
    tables = load_raw(cfg.raw_dir, cfg.validation)

    result = run_raw_gate(tables, read_manifest(cfg.raw_dir), cfg)

    assert result.success, result.summary()


def test_clean_fixture_batch_round_trips_through_load_raw(tmp_path: Path):
    raw = write_raw_batch(tmp_path / "raw")
    tables = load_raw(raw, Config().validation)
    assert len(tables.interactions) == 400
    pd_types = tables.interactions.dtypes.astype(str).to_dict()
    assert pd_types["event_at"] == "datetime64[ns, UTC]"


def test_signup_after_the_first_event_fails_but_a_second_of_rounding_passes(tmp_path: Path):
    cfg = Config(data_dir=tmp_path / "data")
    frames = clean_frames()
    events, users = frames["interactions"], frames["users"]
    first = events.groupby("user_id")["event_at"].min()
    rounding, late = users.index[0], users.index[1:3]
    users.loc[rounding, "signup_at"] = first[users.loc[rounding, "user_id"]] + pd.Timedelta(milliseconds=600)
    users.loc[late, "signup_at"] = users.loc[late, "user_id"].map(first) + pd.Timedelta(hours=1)

    with pytest.raises(GateFailed) as info:
        run_raw_gate(_tables(frames), manifest(), cfg, now=NOW)

    (failure,) = info.value.result.failures
    assert (failure.table, failure.column, failure.unexpected_count) == ("users", "signup_at", 2)
    shown = sorted(int(e.split(":")[0].split()[-1]) for e in failure.examples)
    assert shown == sorted(users.loc[late, "user_id"])
