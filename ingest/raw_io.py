"""Read a raw batch into typed DataFrames (file-level contract checks) and write the landing copy.

``load_raw`` checks what can be wrong with a *file*: missing, empty, corrupt, not UTF-8, a column
missing, values that do not cast to the column's type, text over the size limit. It never drops or
repairs rows: row-level quality (null keys, duplicates, unknown ids, times outside the window) is
the job of the Great Expectations gate in ``validation/``, which runs on these DataFrames.

CSV conventions: UTF-8 with a header row and RFC 4180 quoting (a field holding a double quote is
enclosed in double quotes and the quote doubled; anything else is refused, never repaired); an empty
field is null, except in the free-text columns ``title`` and ``description`` where it is the empty
string; timestamps are ISO-8601 (a time without an offset is UTC). Parquet timestamps without a time
zone are read as UTC too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gfm.config import ValidationConfig
from gfm.errors import RawInputError
from ingest._casting import cast_column, check_text_length
from ingest._csv import read_csv
from ingest.schema import COLUMNS, FREE_TEXT, TABLES, arrow_schema


@dataclass(frozen=True)
class RawTables:
    """The three raw tables in contract dtypes.

    Ids are ``int64`` (``Int64`` when a file holds nulls), timestamps ``datetime64[ns, UTC]`` and
    text columns pandas ``string``.
    """

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame

    def as_dict(self) -> dict[str, pd.DataFrame]:
        """Return the tables by contract name."""
        return {"interactions": self.interactions, "items": self.items, "users": self.users}


def load_raw(raw_dir: Path, cfg: ValidationConfig) -> RawTables:
    """Read ``raw_dir/{interactions,items,users}/`` (Parquet and/or CSV files) into DataFrames.

    Args:
        raw_dir: The raw folder (``Config.raw_dir``); must hold ``_manifest.json`` and three folders.
        cfg: Validation settings (``max_text_chars``, ``max_examples``).

    Returns:
        The tables, with every row kept as it was in the files.

    Raises:
        RawInputError: On the first file-level contract violation, naming file, column and count.

    """
    from ingest.manifest import read_manifest

    if not raw_dir.is_dir():
        raise RawInputError("raw folder not found", file=str(raw_dir))
    read_manifest(raw_dir)
    frames = {table: _load_table(raw_dir / table, table, cfg) for table in TABLES}
    return RawTables(**frames)


def table_files(folder: Path) -> list[Path]:
    """List the ``*.parquet`` and ``*.csv`` files under a table folder (recursively, hive partitions too)."""
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".csv")]
    return sorted(
        p for p in files if not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )


def _load_table(folder: Path, table: str, cfg: ValidationConfig) -> pd.DataFrame:
    if not folder.is_dir():
        raise RawInputError(f"missing table folder for {table!r}", file=str(folder))
    files = table_files(folder)
    if not files:
        raise RawInputError(f"no .parquet or .csv files for table {table!r}", file=str(folder))
    parts = [_read_file(path, table, cfg) for path in files]
    combined = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    return _to_pandas(combined, table)


def _read_file(path: Path, table: str, cfg: ValidationConfig) -> pa.Table:
    """Read one file and cast it to the contract schema of ``table``."""
    name = str(path)
    if path.stat().st_size == 0:
        raise RawInputError("empty file (0 bytes)", file=name)
    raw = read_csv(path) if path.suffix.lower() == ".csv" else _read_parquet(path)
    if raw.num_rows == 0:
        raise RawInputError("empty file (no rows)", file=name)
    missing = [c for c in COLUMNS[table] if c not in raw.column_names]
    if missing:
        raise RawInputError(
            f"missing column(s) {missing}; found {raw.column_names}",
            file=name,
            column=missing[0],
            count=raw.num_rows,
        )
    columns = []
    for column, kind in COLUMNS[table].items():
        arr = cast_column(raw.column(column), kind, file=name, column=column, max_examples=cfg.max_examples)
        if kind == "text":
            if path.suffix.lower() == ".csv" and column in FREE_TEXT:
                arr = arr.fill_null("")
            check_text_length(arr, cfg.max_text_chars, file=name, column=column)
        columns.append(arr)
    schema = pa.schema(
        [
            f.with_type(pa.timestamp("ns", tz="UTC")) if pa.types.is_timestamp(f.type) else f
            for f in arrow_schema(table)
        ]
    )
    return pa.Table.from_arrays(columns, schema=schema)


def _read_parquet(path: Path) -> pa.Table:
    try:
        # ParquetFile reads just this file: hive partition keys in the path are not added.
        return pq.ParquetFile(path).read()
    except (pa.ArrowException, OSError) as exc:
        raise RawInputError(f"truncated or corrupt Parquet: {exc}", file=str(path)) from exc


def _to_pandas(table: pa.Table, name: str) -> pd.DataFrame:
    mapping = {pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype()}
    df = table.to_pandas(types_mapper=mapping.get)
    for column, kind in COLUMNS[name].items():
        if kind in ("id", "int") and not df[column].isna().any():
            df[column] = df[column].astype("int64")
    return df


def write_landing(tables: RawTables, landing_dir: Path) -> dict[str, int]:
    """Write each table to ``landing_dir/<table>.parquet`` in contract types, atomically.

    Each file is written under a temporary name and renamed into place, so a reader (dbt) never
    sees a half-written file. Timestamps are stored as UTC microseconds.

    Returns:
        Row counts by table.

    """
    landing_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table, df in tables.as_dict().items():
        arrow = pa.Table.from_pandas(df[list(COLUMNS[table])], preserve_index=False)
        arrow = arrow.cast(arrow_schema(table), safe=False)  # ns -> us truncates sub-microseconds
        final = landing_dir / f"{table}.parquet"
        tmp = landing_dir / f".{table}.parquet.tmp-{os.getpid()}"
        pq.write_table(arrow.replace_schema_metadata(None), tmp)
        os.replace(tmp, final)
        counts[table] = arrow.num_rows
    return counts
