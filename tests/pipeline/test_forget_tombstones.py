"""Tombstones and the raw filter of ``gfm forget`` (fast: no pipeline run)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gfm.errors import StageError
from gfm.tombstones import ForgottenUsers, add_tombstones, read_tombstones, scrub_parquet
from ingest.forgotten import drop_forgotten, scrub_raw
from ingest.raw_io import RawTables
from pipeline.cli import app


def _tables() -> RawTables:
    events = pd.DataFrame({"event_id": ["a", "b", "c"], "user_id": [1, 2, 1], "item_id": [10, 10, 11]})
    users = pd.DataFrame({"user_id": [1, 2, 3], "country": ["SE", "DE", "FR"]})
    items = pd.DataFrame({"item_id": [10, 11]})
    return RawTables(interactions=events, items=items, users=users)


def test_tombstones_are_added_once_and_survive_rereading(tmp_path):
    assert read_tombstones(tmp_path) == frozenset()
    assert add_tombstones(tmp_path, [5, 3, 5]) == [3, 5]
    assert add_tombstones(tmp_path, [3, 9]) == [9]
    assert read_tombstones(tmp_path) == {3, 5, 9}


def test_a_corrupt_tombstone_file_stops_everything_rather_than_guessing(tmp_path):
    (tmp_path / "tombstones.json").write_text("{not json")
    with pytest.raises(StageError, match="tombstones"):
        read_tombstones(tmp_path)


def test_forgotten_users_sees_a_forget_made_after_it_was_created(tmp_path):
    forgotten = ForgottenUsers(tmp_path)
    assert 4 not in forgotten
    add_tombstones(tmp_path, [4])
    assert 4 in forgotten and 5 not in forgotten


def test_drop_forgotten_removes_the_users_rows_and_events_and_nothing_else():
    tables, dropped = drop_forgotten(_tables(), frozenset({1}))
    assert dropped == {"interactions": 2, "users": 1}
    assert tables.interactions["event_id"].tolist() == ["b"]
    assert tables.users["user_id"].tolist() == [2, 3]
    assert len(tables.items) == 2
    same, none = drop_forgotten(_tables(), frozenset())
    assert none == {} and len(same.interactions) == 3


def test_scrub_raw_rewrites_parquet_and_csv_and_deletes_files_left_empty(tmp_path):
    raw = tmp_path / "raw"
    (raw / "users").mkdir(parents=True)
    (raw / "interactions" / "event_date=2026-01-01").mkdir(parents=True)
    (raw / "interactions" / "event_date=2026-01-02").mkdir(parents=True)
    (raw / "users" / "part.csv").write_text('user_id,country\n1,"S,E"\n 2 ,DE\nx,FR\n')
    day1 = raw / "interactions" / "event_date=2026-01-01" / "part.parquet"
    day2 = raw / "interactions" / "event_date=2026-01-02" / "part.parquet"
    pq.write_table(pa.table({"user_id": [1, 2], "item_id": [10, 11]}), day1)
    pq.write_table(pa.table({"user_id": [1], "item_id": [12]}), day2)

    assert scrub_raw(raw, [1]) == {"interactions": 2, "users": 1}
    assert pq.read_table(day1).column("user_id").to_pylist() == [2]
    assert not day2.exists()  # a raw file with no rows would be refused by load_raw
    assert (raw / "users" / "part.csv").read_text().splitlines()[1:] == ['" 2 ","DE"', '"x","FR"']
    assert scrub_raw(raw, [1]) == {"interactions": 0, "users": 0}  # idempotent


def test_scrub_parquet_leaves_a_file_without_the_users_untouched(tmp_path):
    path = tmp_path / "users.parquet"
    pq.write_table(pa.table({"user_id": [1, 2]}), path)
    before = path.stat().st_mtime_ns
    assert scrub_parquet(path, "user_id", [3]) == 0 and path.stat().st_mtime_ns == before
    assert scrub_parquet(path, "user_id", [2]) == 1
    assert pq.read_table(path).column("user_id").to_pylist() == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forget"], "give at least one --user"),
        (["forget", "--user", "abc"], "not an integer user id"),
        (["forget", "--user", str(2**63)], "int64"),
    ],
)
def test_forget_refuses_bad_input_without_a_traceback(tmp_path, args, message):
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "tombstones.json").exists()


def test_forget_refuses_an_empty_users_file_and_an_unknown_flag(tmp_path):
    empty = tmp_path / "ids.txt"
    empty.write_text("# nobody\n\n")
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "forget", "--users-file", str(empty)])
    assert result.exit_code == 2 and "holds no user id" in result.output
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "forget", "--everyone"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_forgetting_a_user_nobody_holds_reports_zero_and_still_tombstones(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("42  # request 17\n")
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), "forget", "--users-file", str(ids), "--reason", "request 17"]
    )
    assert result.exit_code == 0, result.output
    assert read_tombstones(tmp_path) == {42}
    from pipeline.audit import read_audit

    entry = read_audit(tmp_path)[-1]
    assert entry["action"] == "forget" and entry["why"] == "request 17" and entry["what"]["users"] == [42]
    assert all(sum(rows.values()) == 0 for rows in entry["what"]["removed"].values())


def test_a_running_services_cache_stops_answering_a_user_forgotten_after_it_was_cached(tmp_path):
    import numpy as np

    from vector_index.users import CachedUserVectors, ParquetUserVectors

    path = tmp_path / "users.parquet"
    pq.write_table(pa.table({"user_id": [1, 2], "vector": [[1.0, 0.0], [0.0, 1.0]]}), path)
    cache = CachedUserVectors(ParquetUserVectors(path), forgotten=ForgottenUsers(tmp_path))
    assert cache.get(1, "v1") is not None and len(cache) == 1  # cached before the forget
    add_tombstones(tmp_path, [1])  # another process: `gfm forget --user 1`
    assert cache.get(1, "v1") is None and len(cache) == 0
    np.testing.assert_array_equal(cache.get(2, "v1"), [0.0, 1.0])
