"""Tombstones: the users ``gfm forget`` removed, so that no later batch or rerun brings them back.

One JSON file per data dir (``gfm.naming.tombstones_path``) holding the sorted user ids. It is
written before any store is touched (``pipeline.forget``), under an exclusive lock, atomically
(temp file, fsync, rename, fsync of the folder), so an acknowledged forget survives a crash and a
forget interrupted midway is finished by running it again. Every raw batch is filtered through it
before the raw gate (``warehouse.transform``), and the service answers 404 for a tombstoned user
even from a vector it had cached (``vector_index.service``).

The file keeps the ids themselves: they are what later batches must be matched against. When and
why each one was forgotten is in the audit log (``pipeline.audit``), not here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gfm.atomic import locked, write_json_atomic
from gfm.errors import StageError
from gfm.naming import tombstones_path

__all__ = ["ForgottenUsers", "add_tombstones", "read_tombstones", "scrub_parquet"]


def read_tombstones(data_dir: Path) -> frozenset[int]:
    """The forgotten user ids of ``data_dir`` (empty when nobody was forgotten).

    Raises:
        StageError: If the file exists but cannot be read: filtering on a guess could let a
            forgotten user back in, so nothing runs until it is repaired.

    """
    path = tombstones_path(data_dir)
    if not path.exists():
        return frozenset()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return frozenset(int(u) for u in data["user_ids"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StageError(f"cannot read the tombstones {path}: {exc}") from exc


def add_tombstones(data_dir: Path, user_ids: Iterable[int]) -> list[int]:
    """Add users to the tombstones (durably, before anything else is removed).

    Returns:
        The ids that were not tombstoned before (adding one twice is not an error).

    """
    path = tombstones_path(data_dir)
    with locked(path):
        known = read_tombstones(data_dir)
        new = sorted({int(u) for u in user_ids} - known)
        if new:
            write_json_atomic(path, {"user_ids": sorted(known | set(new))})
        return new


class ForgottenUsers:
    """``user_id in forgotten``: the tombstones, re-read whenever the file changes.

    For long-running readers (the HTTP service): one ``stat`` per check, so a forget made by
    another process takes effect on the next request, without a restart.
    """

    def __init__(self, data_dir: Path) -> None:
        self._path = tombstones_path(data_dir)
        self._data_dir = data_dir
        self._stamp: tuple[int, int] | None = None
        self._ids: frozenset[int] = frozenset()

    def __contains__(self, user_id: object) -> bool:
        try:
            st = self._path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._ids = read_tombstones(self._data_dir) if stamp is not None else frozenset()
            self._stamp = stamp
        return isinstance(user_id, int) and user_id in self._ids


def scrub_parquet(path: Path, column: str, user_ids: Iterable[int], *, keep_empty: bool = True) -> int:
    """Rewrite one Parquet file without the rows whose ``column`` is one of ``user_ids``.

    The file is rewritten (temp file beside it, then an atomic rename) only when it holds such
    rows, so the bytes of the removed rows are gone from the file, not just hidden.

    Args:
        path: The Parquet file.
        column: The user id column (``user_id``).
        user_ids: The users to remove.
        keep_empty: When every row goes: write an empty file (True) or delete the file (False,
            for raw batches, whose reader refuses empty files).

    Returns:
        The rows removed (0: the file was left untouched).

    """
    table = pq.read_table(path)
    if column not in table.column_names:
        return 0
    drop = pc.fill_null(
        pc.is_in(table.column(column), value_set=pa.array(sorted(user_ids), pa.int64())), False
    )
    removed = int(pc.sum(drop).as_py() or 0)
    if not removed:
        return 0
    kept = table.filter(pc.invert(drop))
    if kept.num_rows == 0 and not keep_empty:
        path.unlink()
        return removed
    tmp = path.with_name(f".{path.name}.forget-{os.getpid()}")
    pq.write_table(kept, tmp)
    os.replace(tmp, path)
    return removed
