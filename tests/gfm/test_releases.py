"""The release record: lifecycle transitions, moves, dead runs, atomic writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gfm import releases
from gfm.errors import NotFoundError, StageError
from gfm.naming import release_record_path

V1, V2, V3 = "v20261201t000000_aaaaaa", "v20261202t000000_bbbbbb", "v20261203t000000_cccccc"


def _publish(data_dir: Path, version: str) -> None:
    releases.start_run(data_dir, version)
    releases.transition(data_dir, version, "gated")
    releases.begin_move(data_dir, "publish", version)
    releases.commit_move(data_dir, "test")


def test_publish_retires_the_previous_live_version(tmp_path: Path) -> None:
    _publish(tmp_path, V1)
    _publish(tmp_path, V2)
    record = releases.read_record(tmp_path)
    assert record.live == V2 and record.pending is None
    assert record.get(V1).status == "retired" and record.get(V2).status == "published"
    assert [h["status"] for h in record.get(V1).history] == ["running", "gated", "published", "retired"]
    assert record.retained() == {V1, V2}


def test_rollback_moves_live_back_and_marks_the_newer_version_rolled_back(tmp_path: Path) -> None:
    _publish(tmp_path, V1)
    _publish(tmp_path, V2)
    releases.begin_move(tmp_path, "rollback", V1)
    assert releases.read_record(tmp_path).live == V2  # nothing flips before commit
    releases.commit_move(tmp_path)
    record = releases.read_record(tmp_path)
    assert record.live == V1
    assert record.get(V2).status == "rolled_back" and record.get(V1).status == "published"


@pytest.mark.parametrize(
    ("steps", "bad"),
    [
        (["failed"], "gated"),
        (["gated", "failed"], "gated"),
        ([], "published"),
        (["gated"], "retired"),
    ],
)
def test_transitions_outside_the_lifecycle_are_refused(tmp_path: Path, steps: list[str], bad: str) -> None:
    releases.start_run(tmp_path, V1)
    for status in steps:
        releases.transition(tmp_path, V1, status)  # type: ignore[arg-type]
    with pytest.raises(StageError, match=f"to {bad}"):
        releases.transition(tmp_path, V1, bad)  # type: ignore[arg-type]


def test_only_gated_versions_publish_and_only_former_live_ones_roll_back(tmp_path: Path) -> None:
    releases.start_run(tmp_path, V1)
    with pytest.raises(StageError, match="running, not gated"):
        releases.begin_move(tmp_path, "publish", V1)
    _publish(tmp_path, V2)
    with pytest.raises(StageError, match="running, not retired"):
        releases.begin_move(tmp_path, "rollback", V1)
    with pytest.raises(NotFoundError, match=V3):
        releases.begin_move(tmp_path, "rollback", V3)


def test_a_second_move_is_refused_while_one_is_pending(tmp_path: Path) -> None:
    _publish(tmp_path, V1)
    releases.start_run(tmp_path, V2)
    releases.transition(tmp_path, V2, "gated")
    releases.begin_move(tmp_path, "publish", V2)
    with pytest.raises(StageError, match="unfinished"):
        releases.begin_move(tmp_path, "rollback", V1)
    assert releases.abort_move(tmp_path, "crashed") is not None
    record = releases.read_record(tmp_path)
    assert record.live == V1 and record.pending is None and record.get(V2).status == "failed"


def test_a_run_whose_process_is_gone_is_reaped_and_a_live_one_is_not(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    releases.start_run(tmp_path, V1, pid=child.pid)
    releases.start_run(tmp_path, V2)  # this process: alive
    assert releases.reap_dead_runs(tmp_path) == [V1]
    record = releases.read_record(tmp_path)
    assert record.get(V1).status == "failed" and "is gone" in record.get(V1).reason
    assert record.get(V2).status == "running"
    assert record.failed() == [V1] and V1 not in record.retained()


def test_a_reused_pid_is_not_taken_for_the_run(tmp_path: Path) -> None:
    releases.start_run(tmp_path, V1)
    with releases.editing(tmp_path) as record:
        record.releases[V1].pid_start = "1"  # same pid, another start time
    assert releases.reap_dead_runs(tmp_path) == [V1]


def test_an_error_inside_an_edit_leaves_the_file_unchanged(tmp_path: Path) -> None:
    _publish(tmp_path, V1)
    before = release_record_path(tmp_path).read_bytes()
    with pytest.raises(RuntimeError), releases.editing(tmp_path) as record:
        record.live = None
        raise RuntimeError("boom")
    assert release_record_path(tmp_path).read_bytes() == before
    assert json.loads(before)["live"] == V1
    assert not list(tmp_path.glob(".releases-*"))  # no temp file left behind
