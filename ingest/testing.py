"""Helpers for tests across the project: a small generated raw batch and file-level corruptions.

``make_small_raw`` writes a few-thousand-event synthetic batch in well under a second.
``FILE_CORRUPTIONS`` break a good batch in the ways ``load_raw`` must refuse; each returns the
file it broke, the column (if any) and the row count the error must name.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from gfm.config import GenerateConfig
from ingest.generate import generate
from ingest.raw_io import table_files


def make_small_raw(
    data_dir: Path,
    *,
    users: int = 300,
    podcasts: int = 200,
    audiobooks: int = 80,
    topics: int = 8,
    days: int = 104,
    seed: int = 7,
    end_date: str = "2026-10-31",
) -> Path:
    """Generate a small synthetic batch into ``data_dir / "raw"`` (``Config(data_dir=...).raw_dir``).

    Returns:
        The raw folder.

    """
    cfg = GenerateConfig(
        seed=seed,
        users=users,
        podcasts=podcasts,
        audiobooks=audiobooks,
        topics=topics,
        days=days,
        end_date=end_date,
    )
    raw_dir = data_dir / "raw"
    generate(cfg, raw_dir, show_progress=False)
    return raw_dir


@dataclass(frozen=True)
class Broken:
    """What a corruption broke: the error must name this file (or folder), column and count."""

    file: Path
    column: str | None = None
    count: int = 0


def _first(raw_dir: Path, table: str) -> Path:
    return table_files(raw_dir / table)[0]


def _rewrite(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path)


def _missing_table(raw_dir: Path) -> Broken:
    shutil.rmtree(raw_dir / "users")
    return Broken(raw_dir / "users")


def _missing_manifest(raw_dir: Path) -> Broken:
    (raw_dir / "_manifest.json").unlink()
    return Broken(raw_dir / "_manifest.json")


def _zero_bytes(raw_dir: Path) -> Broken:
    path = _first(raw_dir, "items")
    path.write_bytes(b"")
    return Broken(path)


def _no_rows(raw_dir: Path) -> Broken:
    path = _first(raw_dir, "items")
    _rewrite(path, pq.read_table(path).slice(0, 0))
    return Broken(path)


def _truncated_parquet(raw_dir: Path) -> Broken:
    path = _first(raw_dir, "interactions")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return Broken(path)


def _missing_column(raw_dir: Path) -> Broken:
    path = _first(raw_dir, "items")
    table = pq.read_table(path)
    _rewrite(path, table.drop_columns(["genre"]))
    return Broken(path, "genre", table.num_rows)


def _wrong_type(raw_dir: Path) -> Broken:
    """Rewrite an interactions partition as CSV whose ms_played holds three non-numbers."""
    path = _first(raw_dir, "interactions")
    table = pq.read_table(path)
    ms = [str(v) for v in table.column("ms_played").to_pylist()]
    ms[:3] = ["n/a", "12s", "abc"]
    table = table.set_column(table.schema.get_field_index("ms_played"), "ms_played", pa.array(ms))
    csv_path = path.with_suffix(".csv")
    pa_csv.write_csv(table, csv_path)
    path.unlink()
    return Broken(csv_path, "ms_played", 3)


def _non_utf8(raw_dir: Path) -> Broken:
    """Rewrite the items file as CSV with two Latin-1 encoded titles."""
    path = _first(raw_dir, "items")
    csv_path = path.with_suffix(".csv")
    pa_csv.write_csv(pq.read_table(path), csv_path)
    lines = csv_path.read_bytes().split(b"\n")
    for i in (1, 2):  # strings are quoted, so the first '","' opens the title field
        lines[i] = lines[i].replace(b'","', b'","Caf\xe9 ', 1)  # \xe9 alone is not valid UTF-8
    csv_path.write_bytes(b"\n".join(lines))
    path.unlink()
    return Broken(csv_path, "title", 2)


def _huge_text(raw_dir: Path) -> Broken:
    """Give one item a description of 25,000 characters (the default limit is 20,000)."""
    path = _first(raw_dir, "items")
    table = pq.read_table(path)
    desc = table.column("description").to_pylist()
    desc[0] = "word " * 5_000
    _rewrite(
        path, table.set_column(table.schema.get_field_index("description"), "description", pa.array(desc))
    )
    return Broken(path, "description", 1)


#: Name -> corruption, for parametrised tests. Each modifies a good raw folder in place.
FILE_CORRUPTIONS: dict[str, Callable[[Path], Broken]] = {
    "missing_table": _missing_table,
    "missing_manifest": _missing_manifest,
    "zero_bytes": _zero_bytes,
    "no_rows": _no_rows,
    "truncated_parquet": _truncated_parquet,
    "missing_column": _missing_column,
    "wrong_type": _wrong_type,
    "non_utf8": _non_utf8,
    "huge_text": _huge_text,
}
