"""Cast one raw column to its contract type, or raise a RawInputError that shows the bad values.

Only *type* problems are errors here. Nulls, duplicates, unknown ids and out-of-window times are
row-level quality issues that the Great Expectations gate reports, so they pass through unchanged.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gfm.errors import RawInputError
from ingest.schema import Kind

_NS_UTC = pa.timestamp("ns", tz="UTC")
_INT_TEXT = r"^\s*[+-]?\d{1,19}(\.0*)?\s*$"  # integers as text; "12.0" is accepted (a float column in CSV)
_INT64_MAX_DIGITS = {False: str(2**63 - 1), True: str(2**63)}  # by sign: the largest magnitude


def cast_column(
    arr: pa.ChunkedArray, kind: Kind, *, file: str, column: str, max_examples: int
) -> pa.ChunkedArray:
    """Cast ``arr`` to the Arrow type of ``kind`` (int64, string, or timestamp[ns, UTC]).

    Args:
        arr: The column as read from the file.
        kind: The contract kind of the column.
        file: The file name, for errors.
        column: The column name, for errors.
        max_examples: How many offending values an error message shows.

    Raises:
        RawInputError: If some non-null values cannot be cast (count and examples in the message).

    """
    where: dict[str, Any] = {"file": file, "column": column, "max_examples": max_examples}
    if kind in ("id", "int"):
        return _to_int64(arr, **where)
    if kind == "timestamp":
        return _to_timestamp(arr, **where)
    return _to_text(arr, **where)


def check_text_length(arr: pa.ChunkedArray, limit: int, *, file: str, column: str) -> None:
    """Raise if any value of a text column is longer than ``limit`` characters."""
    lengths = pc.utf8_length(arr)
    too_long = pc.greater(lengths, limit)
    count = int(pc.sum(too_long).as_py() or 0)
    if count:
        longest = int(pc.max(lengths).as_py() or 0)
        raise RawInputError(
            f"text longer than {limit} characters (longest {longest})", file=file, column=column, count=count
        )


def _fail(bad: pa.ChunkedArray, values: pa.ChunkedArray, expected: str, **where: Any) -> None:
    """Raise if ``bad`` (a boolean mask) marks any row, quoting the first offending values."""
    count = int(pc.sum(bad).as_py() or 0)
    if not count:
        return
    examples = pc.filter(values, bad).slice(0, where.pop("max_examples")).to_pylist()
    shown = ", ".join(repr(v) for v in examples)
    raise RawInputError(
        f"{count} values do not cast to {expected}, e.g. {shown}",
        file=where["file"],
        column=where["column"],
        count=count,
    )


def _to_int64(arr: pa.ChunkedArray, **where: Any) -> pa.ChunkedArray:
    t = arr.type
    if pa.types.is_integer(t):
        if pa.types.is_unsigned_integer(t) and t.bit_width == 64:
            limit = pa.scalar(2**63 - 1, pa.uint64())  # a plain int would cast the column to int64
            _fail(pc.fill_null(pc.greater(arr, limit), False), arr, "BIGINT", **where)
        return arr.cast(pa.int64())
    if pa.types.is_floating(t):
        valid = pc.is_valid(arr)
        finite = pc.fill_null(pc.is_finite(arr), False)
        integral = pc.fill_null(pc.equal(pc.floor(arr), arr), False)
        in_range = pc.fill_null(pc.less(pc.abs(arr), 2.0**63), False)
        ok = pc.and_(pc.and_(finite, integral), in_range)
        _fail(pc.and_(valid, pc.invert(ok)), arr, "BIGINT", **where)
        return arr.cast(pa.int64(), safe=False)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        integer_part = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\.0*\s*$", ""))
        ok = pc.and_(pc.match_substring_regex(arr, _INT_TEXT), _fits_int64(integer_part))
        _fail(pc.fill_null(pc.invert(ok), False), arr, "BIGINT", **where)
        return integer_part.cast(pa.int64())
    _fail(pc.is_valid(arr), arr, f"BIGINT (the column is {t})", **where)
    return pa.chunked_array([pa.nulls(len(arr), pa.int64())])


def _fits_int64(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """Whether each integer string (sign and digits) is within the int64 range.

    Only 19-digit magnitudes can overflow: they are compared as strings with the range's bound.
    """
    digits = pc.replace_substring_regex(text, r"^[+-]?0*", "")
    length = pc.utf8_length(digits)
    negative = pc.starts_with(text, "-")
    bound = pc.if_else(negative, _INT64_MAX_DIGITS[True], _INT64_MAX_DIGITS[False])
    over = pc.or_(pc.greater(length, 19), pc.and_(pc.equal(length, 19), pc.greater(digits, bound)))
    return pc.invert(over)


def _to_timestamp(arr: pa.ChunkedArray, **where: Any) -> pa.ChunkedArray:
    t = arr.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        # A timestamp without a zone is read as UTC (contract: all times are UTC).
        utc = arr.cast(pa.timestamp(t.unit if pa.types.is_timestamp(t) else "s", tz="UTC"))
        years = pc.year(utc)
        out_of_range = pc.fill_null(pc.or_(pc.less(years, 1678), pc.greater(years, 2261)), False)
        _fail(out_of_range, utc, "TIMESTAMP (outside years 1678-2261)", **where)
        return utc.cast(_NS_UTC)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        text = arr.to_pandas()
        # Parse zoned and zone-less strings apart: mixed in one call, pandas applies the first
        # offset it sees to the zone-less ones instead of reading them as UTC.
        zoned = text.str.contains(
            r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$", regex=True, na=False
        )
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
        for mask in (zoned, ~zoned):
            if mask.any():
                parsed[mask] = pd.to_datetime(text[mask], utc=True, errors="coerce", format="ISO8601")
        bad = pa.chunked_array([pa.array(text.notna() & parsed.isna())])
        _fail(bad, arr, "TIMESTAMP (ISO-8601)", **where)
        return pa.chunked_array([pa.array(parsed, type=_NS_UTC)])
    _fail(pc.is_valid(arr), arr, f"TIMESTAMP (the column is {t})", **where)
    return pa.chunked_array([pa.nulls(len(arr), _NS_UTC)])


def _to_text(arr: pa.ChunkedArray, **where: Any) -> pa.ChunkedArray:
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr.cast(pa.string())
    if pa.types.is_dictionary(t):
        return _to_text(arr.cast(t.value_type), **where)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        values = arr.to_pylist()
        bad_mask = [v is not None and not _is_utf8(v) for v in values]
        _fail(pa.chunked_array([pa.array(bad_mask)]), arr, "VARCHAR (not UTF-8)", **where)
        return arr.cast(pa.string())
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return arr.cast(pa.string())  # e.g. numeric creator ids: always representable as text
    _fail(pc.is_valid(arr), arr, f"VARCHAR (the column is {t})", **where)
    return pa.chunked_array([pa.nulls(len(arr), pa.string())])


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
