"""Read one of the user's files and turn its mapped columns into contract columns.

Every refusal is a ``RawInputError`` naming the file, the user's column and the first offending
value(s): a missing column, an id that is not an integer, a time without a zone when the mapping
gives none, an event value the mapping does not know.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from gfm.errors import RawInputError
from ingest._casting import cast_column
from ingest._csv import read_csv
from ingest.importing.mapping import EventsMapping, Mapping
from ingest.raw_io import table_files
from ingest.schema import Kind

_ZONED = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$"
_NO_ZONE = "times have no time zone: set timezone (e.g. UTC or Europe/Berlin) in the mapping or --tz"


def expand(paths: list[Path]) -> list[Path]:
    """The files named, with folders expanded to their ``*.csv`` / ``*.parquet`` files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = table_files(path)
            if not found:
                raise RawInputError("no .csv or .parquet files in the folder", file=str(path))
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in (".csv", ".parquet"):
                raise RawInputError("not a .csv or .parquet file", file=str(path))
            files.append(path)
        else:
            raise RawInputError("file not found", file=str(path))
    return files


def read_source(path: Path) -> pa.Table:
    """Read a CSV (strict RFC 4180, UTF-8; every column text) or Parquet file; refuse an empty one."""
    from ingest.raw_io import _read_parquet

    if path.stat().st_size == 0:
        raise RawInputError("empty file (0 bytes)", file=str(path))
    table = read_csv(path) if path.suffix.lower() == ".csv" else _read_parquet(path)
    if table.num_rows == 0:
        raise RawInputError("empty file (no rows)", file=str(path))
    return table


class SourceFile:
    """One read file and the mapping of its columns: typed contract columns on request."""

    def __init__(self, path: Path, columns: dict[str, str], mapping: Mapping, max_examples: int) -> None:
        self.path, self.name = path, str(path)
        self.table = read_source(path)
        self.columns = columns
        self.mapping = mapping
        self.max_examples = max_examples

    @property
    def rows(self) -> int:
        """Number of rows in the file."""
        return int(self.table.num_rows)

    def has(self, contract: str) -> bool:
        """Whether the file holds the column that ``contract`` maps to."""
        return self.columns.get(contract, contract) in self.table.column_names

    def raw(self, contract: str) -> tuple[pa.ChunkedArray, str]:
        """The user's column for a contract column, and its name; refuse a missing one."""
        theirs = self.columns.get(contract, contract)
        if theirs not in self.table.column_names:
            mapped = f" (mapped to {contract})" if theirs != contract else ""
            raise RawInputError(
                f"missing column {theirs!r}{mapped}; the file has {self.table.column_names}",
                file=self.name,
                column=theirs,
            )
        return self.table.column(theirs), theirs

    def typed(self, contract: str, kind: Kind) -> pa.ChunkedArray:
        """The column cast to its contract kind (ids: integers only; times: see ``to_utc``)."""
        arr, theirs = self.raw(contract)
        if kind == "timestamp":
            return to_utc(arr, self.mapping, file=self.name, column=theirs, max_examples=self.max_examples)
        return cast_column(arr, kind, file=self.name, column=theirs, max_examples=self.max_examples)

    def event_types(self, events: EventsMapping) -> pa.ChunkedArray:
        """The event column in the contract's vocabulary (null where the value is ignored)."""
        if events.event_type is not None:
            return pa.chunked_array([pa.array([events.event_type] * self.rows, pa.string())])
        arr, theirs = self.raw("event_type")
        text = cast_column(arr, "text", file=self.name, column=theirs, max_examples=self.max_examples)
        values = pd.Series(text.to_pandas(), dtype="object")
        known = values.isin(list(events.event_types)) | values.isin(events.ignore)
        bad = values[~known]
        if len(bad):
            shown = ", ".join(repr(v) for v in pd.unique(bad)[: self.max_examples])
            raise RawInputError(
                f"event value(s) not in the mapping: {shown}; map each under events.event_types "
                f"({', '.join(sorted(events.event_types))} are mapped) or list it under events.ignore",
                file=self.name,
                column=theirs,
                count=len(bad),
            )
        return pa.chunked_array([pa.array(values.map(events.event_types), pa.string())])


def to_utc(
    arr: pa.ChunkedArray, mapping: Mapping, *, file: str, column: str, max_examples: int
) -> pa.ChunkedArray:
    """Parse a time column to ``timestamp[ns, UTC]`` under the mapping's time rules.

    Zoned times (Parquet with a zone, text with an offset) keep their instant. Zone-less times are
    read in ``mapping.timezone`` and refused when it is not set. Numbers are epoch times in
    ``mapping.epoch_unit`` and refused when it is not set. In a zone with daylight saving, an
    ambiguous wall time is read as standard time and a nonexistent one is moved forward.

    Raises:
        RawInputError: Naming the file, column and first values that break these rules.

    """
    t = arr.type

    def fail(message: str, values: pd.Series) -> RawInputError:
        shown = ", ".join(repr(str(v)) for v in values.head(max_examples))
        return RawInputError(f"{message}, e.g. {shown}", file=file, column=column, count=len(values))

    if pa.types.is_integer(t) or pa.types.is_floating(t):
        if mapping.epoch_unit is None:
            raise fail(
                "times are numbers: set epoch_unit (s, ms or us) in the mapping", arr.to_pandas().dropna()
            )
        numbers = arr.to_pandas()
        return _ns_utc(pd.to_datetime(numbers, unit=mapping.epoch_unit, utc=True))
    if pa.types.is_timestamp(t) and t.tz is not None:
        return cast_column(arr, "timestamp", file=file, column=column, max_examples=max_examples)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        naive = pd.Series(pd.to_datetime(arr.to_pandas()))
        if mapping.timezone is None:
            raise fail(_NO_ZONE, naive.dropna())
        return _ns_utc(_localize(naive, mapping.timezone))
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        raise fail(f"a {t} column does not hold times", arr.to_pandas().dropna())
    text = pd.Series(arr.to_pandas(), dtype="object")
    present = text.notna()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if mapping.time_format is not None:
        naive = pd.to_datetime(text, format=mapping.time_format, errors="coerce")
        zoned = pd.Series(naive.dt.tz is not None, index=text.index)  # a %z format: every value zoned
        if zoned.all():
            out, naive = naive.dt.tz_convert("UTC"), naive.dt.tz_localize(None)
    else:
        # zoned and zone-less strings apart: mixed in one call, pandas applies one offset to all
        zoned = text.str.contains(_ZONED, regex=True, na=False)
        if zoned.any():
            out[zoned] = pd.to_datetime(text[zoned], utc=True, errors="coerce", format="ISO8601")
        naive = pd.to_datetime(text.where(~zoned), errors="coerce", format="ISO8601")
    naive_rows = present & ~zoned
    if naive_rows.any():
        if mapping.timezone is None:
            raise fail(_NO_ZONE, text[naive_rows])
        out[naive_rows] = _localize(naive[naive_rows], mapping.timezone)
    bad = present & out.isna()
    if bad.any():
        expected = f"the time_format {mapping.time_format!r}" if mapping.time_format else "ISO-8601"
        raise fail(f"values are not times in {expected}", text[bad])
    return _ns_utc(out)


def _localize(naive: pd.Series, zone: str) -> pd.Series:
    """Read wall-clock times in ``zone`` (ambiguous: standard time; nonexistent: moved forward)."""
    standard = np.zeros(len(naive), dtype=bool)
    local = naive.dt.tz_localize(zone, ambiguous=standard, nonexistent="shift_forward")
    return local.dt.tz_convert("UTC")


def _ns_utc(times: pd.Series) -> pa.ChunkedArray:
    utc = pd.Series(times).dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return pa.chunked_array([pa.array(utc, pa.timestamp("ns", tz="UTC"))])
