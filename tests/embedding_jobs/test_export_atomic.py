"""Vector and cache files are replaced whole, also when two jobs write the same path at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embedding_jobs import export
from embedding_jobs.export import read_vectors, write_table_atomic, write_vectors


def test_two_interleaved_writers_of_one_path_both_finish_and_leave_a_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "items.parquet"
    real_write = pq.write_table
    nested = []

    def write(table: pa.Table, where: Path) -> None:
        real_write(table, where)
        if not nested:  # between the first writer's write and its rename, a second writer runs
            nested.append(True)
            write_vectors(path, "item_id", np.array([7]), np.ones((1, 3), np.float32), None)

    monkeypatch.setattr(export.pq, "write_table", write)
    write_vectors(path, "item_id", np.array([1, 2]), np.zeros((2, 3), np.float32), None)
    ids, vectors = read_vectors(path)
    assert ids.tolist() == [1, 2] and vectors.shape == (2, 3)  # the last rename wins, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.parquet"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cache.parquet"
    write_table_atomic(pa.table({"a": [1]}), path)

    def broken(table: pa.Table, where: Path) -> None:
        Path(where).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(export.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table_atomic(pa.table({"a": [2]}), path)
    assert pq.read_table(path).column("a").to_pylist() == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.parquet"]
