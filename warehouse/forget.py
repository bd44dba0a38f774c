"""Removing forgotten users from the promoted warehouse: landing files, DuckDB and Parquet marts.

Rows that name the user (``user_id``) are deleted; aggregates that merely counted them (item
popularity, co-listener counts of item edges) are rebuilt by the next ``gfm run``, which reads
the raw batch through the tombstones (``warehouse.transform``).

The DuckDB file is rewritten, not only edited: a ``DELETE`` marks rows deleted but their bytes
stay in the file's blocks. The rows are deleted in a copy of the file, the copy is written out
fresh (``COPY FROM DATABASE``), and renamed over the analysts' file, so the old bytes leave with
the old file and a crash midway leaves the previous file whole.
"""

from __future__ import annotations

import os
from pathlib import Path

from gfm.errors import StageError
from gfm.tombstones import scrub_parquet
from warehouse.promote import MARTS

__all__ = ["forget_landing", "forget_marts", "forget_warehouse"]

LANDING_TABLES: tuple[str, ...] = ("interactions", "users")


def forget_landing(landing_dir: Path, user_ids: list[int]) -> dict[str, int]:
    """Rewrite ``landing/{interactions,users}.parquet`` without the users; rows removed per file."""
    out = {}
    for table in LANDING_TABLES:
        path = landing_dir / f"{table}.parquet"
        if path.exists():
            out[table] = scrub_parquet(path, "user_id", user_ids)
    return out


def forget_marts(marts_dir: Path, user_ids: list[int]) -> dict[str, int]:
    """Rewrite every Parquet mart with a ``user_id`` column without the users; rows removed per mart."""
    out = {}
    for mart in MARTS:
        path = marts_dir / f"{mart}.parquet"
        if path.exists():
            removed = scrub_parquet(path, "user_id", user_ids)
            if removed or "user_id" in _columns(path):
                out[mart] = removed
    return out


def forget_warehouse(db_path: Path, user_ids: list[int]) -> dict[str, int]:
    """Delete the users from every table of the DuckDB file that has a ``user_id`` column.

    Returns:
        Rows removed per table (views over those tables follow by themselves).

    Raises:
        StageError: If the file is open in another process (DuckDB allows one writer).

    """
    import duckdb

    if not db_path.exists():
        return {}
    work = db_path.with_name(f".{db_path.stem}.forget-{os.getpid()}.duckdb")
    fresh = db_path.with_name(f".{db_path.stem}.fresh-{os.getpid()}.duckdb")
    for path in (work, fresh):
        path.unlink(missing_ok=True)
    removed: dict[str, int] = {}
    try:
        try:
            # read the live file once, into a private copy: analysts keep reading the old one
            with duckdb.connect(str(db_path), read_only=True) as con:
                tables = _user_tables(con)
                counts = _count(con, tables, user_ids)
        except duckdb.Error as exc:
            raise StageError(
                f"cannot open the warehouse {db_path}: {exc} (is it open in another process?)"
            ) from exc
        removed = dict(counts)
        if not any(counts.values()):
            return removed
        with duckdb.connect() as con:
            con.execute(f"attach {_literal(db_path)} as live (read_only)")
            con.execute(f"attach {_literal(work)} as work")
            con.execute("copy from database live to work")
            con.execute("detach live")
            con.execute("create temp table forgotten (user_id bigint)")
            con.executemany("insert into forgotten values (?)", [(u,) for u in user_ids])
            for table in tables:
                # table names come from the file's catalog, never from user text; ids are a table
                con.execute(
                    f'delete from work.main."{table}" where user_id in (select user_id from forgotten)'
                )
            con.execute("detach work")
        # a second copy leaves the deleted rows' bytes behind, in the blocks of `work`
        with duckdb.connect(str(fresh)) as con:
            con.execute(f"attach {_literal(work)} as work (read_only)")
            con.execute("copy from database work to " + _catalog(con))
            con.execute("detach work")
            con.execute("checkpoint")
        os.replace(fresh, db_path)
        Path(f"{db_path}.wal").unlink(missing_ok=True)
    finally:
        for path in (work, fresh, Path(f"{work}.wal"), Path(f"{fresh}.wal")):
            path.unlink(missing_ok=True)
    return removed


def _user_tables(con: object) -> list[str]:
    rows = con.execute(  # type: ignore[attr-defined]
        "select c.table_name from information_schema.columns c join information_schema.tables t "
        "on c.table_name = t.table_name and c.table_schema = t.table_schema "
        "where c.column_name = 'user_id' and c.table_schema = 'main' and t.table_type = 'BASE TABLE' "
        "order by 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def _count(con: object, tables: list[str], user_ids: list[int]) -> dict[str, int]:
    out = {}
    for table in tables:
        row = con.execute(  # type: ignore[attr-defined]
            f'select count(*) from main."{table}" where list_contains(?, user_id)', [list(user_ids)]
        ).fetchone()
        out[table] = int(row[0]) if row else 0
    return out


def _catalog(con: object) -> str:
    row = con.execute("select current_database()").fetchone()  # type: ignore[attr-defined]
    return f'"{row[0]}"'


def _literal(path: Path) -> str:
    """A file path as an SQL string literal (DuckDB's ATTACH takes no parameter)."""
    return "'" + str(path.resolve()).replace("'", "''") + "'"


def _columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)
