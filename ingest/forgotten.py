"""Keeping forgotten users out of raw data (``gfm forget``; the ids come from ``gfm.tombstones``).

Two jobs. ``drop_forgotten`` takes a batch as read by ``load_raw`` and removes every user row and
event of a forgotten user, before the raw gate: nothing downstream (landing, DuckDB, marts,
Feast, training) ever sees them, whatever the batch holds. ``scrub_raw`` rewrites the files of
the raw folder itself without them, so the raw logs on disk do not hold them either.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ingest._csv import read_csv
from ingest.raw_io import RawTables, table_files

__all__ = ["USER_TABLES", "drop_forgotten", "scrub_raw"]

#: The raw tables that hold a user id (items have none).
USER_TABLES: tuple[str, ...] = ("interactions", "users")


def drop_forgotten(tables: RawTables, user_ids: frozenset[int]) -> tuple[RawTables, dict[str, int]]:
    """The batch without the rows of forgotten users.

    Args:
        tables: The batch from ``load_raw``.
        user_ids: The tombstoned users (``gfm.tombstones.read_tombstones``).

    Returns:
        The filtered tables, and the rows dropped per table (tables with none left out).

    """
    if not user_ids:
        return tables, {}
    frames = tables.as_dict()
    dropped: dict[str, int] = {}
    ids = list(user_ids)
    for name in USER_TABLES:
        frame = frames[name]
        mask = frame["user_id"].isin(ids).fillna(False).to_numpy(dtype=bool)
        if mask.any():
            dropped[name] = int(mask.sum())
            frames[name] = frame.loc[~mask].reset_index(drop=True)
    return RawTables(**frames), dropped


def scrub_raw(raw_dir: Path, user_ids: Iterable[int]) -> dict[str, int]:
    """Rewrite the raw files (Parquet and CSV) of ``raw_dir`` without the given users.

    Each file holding one of them is rewritten under a temporary name and renamed over the old
    one; a file left with no rows is deleted (``load_raw`` refuses empty files). A value that is
    not an integer id is left alone: it cannot be a forgotten user, and the raw gate reports it.

    Returns:
        Rows removed per table (0 when the folder does not exist or holds none).

    """
    ids = pa.array(sorted({int(u) for u in user_ids}), pa.int64())
    removed = dict.fromkeys(USER_TABLES, 0)
    for table in USER_TABLES:
        folder = raw_dir / table
        if not folder.is_dir():
            continue
        for path in table_files(folder):
            removed[table] += _scrub_file(path, ids)
    return removed


def _scrub_file(path: Path, ids: pa.Array) -> int:
    is_csv = path.suffix.lower() == ".csv"
    data = read_csv(path) if is_csv else pq.ParquetFile(path).read()
    if "user_id" not in data.column_names or data.num_rows == 0:
        return 0
    users = _as_ids(data.column("user_id"))
    drop = pc.fill_null(pc.is_in(users, value_set=ids), False)
    removed = int(pc.sum(drop).as_py() or 0)
    if not removed:
        return 0
    kept = data.filter(pc.invert(drop))
    if kept.num_rows == 0:
        path.unlink()
        return removed
    tmp = path.with_name(f".{path.name}.forget-{os.getpid()}")
    if is_csv:
        pa_csv.write_csv(kept, tmp)
    else:
        pq.write_table(kept, tmp)
    os.replace(tmp, path)
    return removed


def _as_ids(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column as int64; a value that is not a whole number becomes null (never a match)."""
    if pa.types.is_integer(column.type):
        return column.cast(pa.int64())
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    whole = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?[0-9]{1,19}$"), False)
    digits = pc.if_else(whole, text, pa.scalar(None, pa.string()))
    try:
        return digits.cast(pa.int64())
    except pa.ArrowInvalid:  # a 19-digit number past the int64 range: one by one
        return pa.chunked_array([pa.array([_int64(v) for v in digits.to_pylist()], pa.int64())])


def _int64(value: str | None) -> int | None:
    n = None if value is None else int(value)
    return n if n is not None and -(2**63) <= n < 2**63 else None
