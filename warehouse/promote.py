"""Promote a gated build: swap in the DuckDB file and the Parquet marts, or touch nothing.

The marts are first exported from the build file into a hidden staging folder beside
``marts/``. Only then is ``build.duckdb`` renamed over ``gfm.duckdb`` (atomic on one file
system) and the staging folder swapped in for ``marts/``, so a failure before this point
leaves the previous warehouse and marts exactly as they were.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from gfm.errors import StageError

#: Every mart of docs/contracts.md section 2, with the key its Parquet export is sorted by.
MARTS: dict[str, tuple[str, ...]] = {
    "dim_users": ("user_id",),
    "dim_items": ("item_id",),
    "fct_interactions": ("user_id", "item_id"),
    "fct_eval_interactions": ("user_id", "item_id"),
    "fct_item_edges": ("src_item_id", "dst_item_id"),
    "user_features_daily": ("user_id", "feature_at"),
    "item_features_daily": ("item_id", "feature_at"),
}


def export_marts(db_path: Path, out_dir: Path) -> dict[str, int]:
    """Write every mart of ``db_path`` to ``out_dir/<mart>.parquet`` (sorted by its key).

    Also checkpoints the database, so the file is complete without a ``.wal`` beside it.

    Returns:
        Row counts by mart.

    Raises:
        StageError: If a mart is missing from the database.

    """
    import duckdb

    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with duckdb.connect(str(db_path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        present = {
            row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()
        }
        missing = sorted(set(MARTS) - present)
        if missing:
            raise StageError(f"the build {db_path} lacks the marts {missing}")
        for mart, key in MARTS.items():
            target = out_dir / f"{mart}.parquet"
            # mart names and keys are the constants above, never user text; the path is a parameter
            con.execute(
                f"copy (select * from main.{mart} order by {', '.join(key)}) to $path (format parquet)",
                {"path": str(target)},
            )
            row = con.execute(f"select count(*) from main.{mart}").fetchone()
            counts[mart] = int(row[0]) if row else 0
        con.execute("checkpoint")
    return counts


@dataclass(frozen=True)
class StagedMarts:
    """Parquet marts exported from a build into a hidden folder beside ``marts/``, not yet live."""

    folder: Path
    counts: dict[str, int]


def stage_marts(build_db: Path, marts_dir: Path) -> StagedMarts:
    """Export the marts of ``build_db`` into a hidden staging folder beside ``marts_dir``.

    Returns:
        The staging folder and the row counts by mart (nothing live has changed yet).

    """
    folder = marts_dir.parent / f".{marts_dir.name}.staging-{uuid.uuid4().hex[:8]}"
    try:
        counts = export_marts(build_db, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StagedMarts(folder, counts)


def swap_in(
    staged: StagedMarts,
    build_db: Path,
    warehouse_path: Path,
    marts_dir: Path,
    extra_files: dict[Path, Path],
    landing: tuple[Path, Path] | None = None,
) -> None:
    """Make a staged build live: rename the build file and the staged marts over the old ones.

    Args:
        staged: From :func:`stage_marts`.
        build_db: The gated build (``warehouse/build.duckdb``); it is moved, not copied.
        warehouse_path: The analysts' DuckDB file (``Config.warehouse_path``).
        marts_dir: The Parquet marts folder (``Config.marts_dir``).
        extra_files: Provenance files to move into place too (source -> destination).
        landing: The staged landing folder and the live one it replaces (``Config.landing_dir``).

    """
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    # A stale write-ahead log of the old file would be replayed into the new one: drop it.
    Path(f"{warehouse_path}.wal").unlink(missing_ok=True)
    os.replace(build_db, warehouse_path)
    retired = marts_dir.parent / f".{marts_dir.name}.retired-{uuid.uuid4().hex[:8]}"
    if marts_dir.exists():
        os.replace(marts_dir, retired)
    os.replace(staged.folder, marts_dir)
    shutil.rmtree(retired, ignore_errors=True)
    if landing is not None:
        staged_landing, landing_dir = landing
        retired = landing_dir.parent / f".{landing_dir.name}.retired-{uuid.uuid4().hex[:8]}"
        if landing_dir.exists():
            os.replace(landing_dir, retired)
        os.replace(staged_landing, landing_dir)
        shutil.rmtree(retired, ignore_errors=True)
    for source, destination in extra_files.items():
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)
