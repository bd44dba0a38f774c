"""Issue 2, item 8: every kind of broken raw batch is refused, naming the file, column and count."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.bad_raw import KINDS, BadKind
from fixtures.raw_batch import NOW

from gfm.config import Config
from gfm.errors import GateFailedError, RawInputError
from ingest.manifest import read_manifest
from ingest.raw_io import load_raw
from validation.gates import run_raw_gate
from validation.results import GateFailed


def test_there_are_at_least_ten_kinds_covering_the_issue_list():
    names = {k.name for k in KINDS}
    required = {"missing_column", "wrong_type", "null_keys", "duplicate_events", "unknown_item",
                "future_timestamp", "empty_file", "truncated_parquet", "non_utf8_text", "huge_text_field"}  # fmt: skip
    assert required <= names
    assert len(KINDS) >= 10


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_broken_raw_batch_is_refused_naming_file_column_and_count(kind: BadKind, tmp_path: Path):
    cfg = Config(data_dir=tmp_path / "data")
    kind.build(cfg.raw_dir)

    if kind.refused_by == "load":
        with pytest.raises(RawInputError) as info:
            load_raw(cfg.raw_dir, cfg.validation)
        error = info.value
        assert Path(error.file).name == kind.where
        assert error.column == kind.column
        assert error.count == kind.count
        message = str(error)
        assert kind.where in message
        if kind.column:
            assert repr(kind.column) in message
        if kind.count:
            assert f"({kind.count} rows)" in message
        return

    tables = load_raw(cfg.raw_dir, cfg.validation)  # row-level problems pass the file checks
    with pytest.raises(GateFailedError) as info:
        run_raw_gate(tables, read_manifest(cfg.raw_dir), cfg, now=NOW)
    error = info.value
    assert isinstance(error, GateFailed)
    matches = [
        f for f in error.result.failures
        if f.table == kind.where and f.column == kind.column and kind.check in f.description
    ]  # fmt: skip
    assert matches, error.summary
    assert matches[0].unexpected_count == kind.count
    assert matches[0].examples
    line = next(line for line in error.summary.splitlines() if matches[0].description in line)
    assert f"{kind.where} (" in line
    assert f"column {kind.column!r}" in line
    assert f": {kind.count} of " in line
    assert error.docs_path and Path(error.docs_path).is_file()


def _snapshot(cfg: Config) -> dict[str, bytes]:
    files = [cfg.warehouse_path, *sorted(cfg.marts_dir.glob("*.parquet"))]
    return {str(p): p.read_bytes() for p in files}


@pytest.mark.slow
def test_refused_batches_leave_the_previous_good_warehouse_and_marts_untouched(tmp_path: Path):
    from fixtures.raw_batch import write_raw_batch

    from warehouse.transform import run_transform

    cfg = Config(data_dir=tmp_path / "data")
    write_raw_batch(cfg.raw_dir)
    run_transform(cfg, show_progress=False)
    good = _snapshot(cfg)
    assert len(good) > 5

    for name in ("truncated_parquet", "unknown_item", "future_timestamp"):
        kind = next(k for k in KINDS if k.name == name)
        kind.build(cfg.raw_dir)
        with pytest.raises((RawInputError, GateFailedError)):
            run_transform(cfg, show_progress=False)
        assert _snapshot(cfg) == good, name
