"""Feast fields generated from Parquet schemas, and the mart files Feast reads.

The per-content-type columns of ``user_features_daily`` (``n_streams_90d_<type>``) depend on the
data, so feature views are never written out by hand: their fields come from the Parquet schema of
the mart. Only pyarrow is needed to read a schema; feast types are imported inside the function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from gfm.errors import StageError

MART_FILES: dict[str, str] = {
    "dim_users": "dim_users.parquet",
    "dim_items": "dim_items.parquet",
    "user_features_daily": "user_features_daily.parquet",
    "item_features_daily": "item_features_daily.parquet",
}


def mart_path(marts_dir: Path, mart: str) -> Path:
    """The absolute Parquet path of a mart, checked to exist.

    Raises:
        StageError: If the file is missing (the transform stage has not run).

    """
    path = (marts_dir / MART_FILES[mart]).resolve()
    if not path.exists():
        raise StageError(f"mart {mart!r} not found at {path}: run `gfm transform` first")
    return path


def parquet_columns(path: Path) -> dict[str, pa.DataType]:
    """Column name -> Arrow type of a Parquet file (reads the footer only)."""
    schema = pq.read_schema(path)
    return {field.name: field.type for field in schema}


def feast_dtype(arrow_type: pa.DataType, column: str = "?") -> Any:
    """The Feast type for an Arrow type.

    Raises:
        StageError: If the Arrow type has no Feast equivalent (names the column).

    """
    from feast import types as ft

    if pa.types.is_boolean(arrow_type):
        return ft.Bool
    if pa.types.is_integer(arrow_type):
        return ft.Int32 if arrow_type.bit_width <= 32 else ft.Int64
    if pa.types.is_float32(arrow_type) or pa.types.is_float16(arrow_type):
        return ft.Float32
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return ft.Float64
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return ft.String
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return ft.UnixTimestamp
    if pa.types.is_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        inner = arrow_type.value_type
        if pa.types.is_float32(inner):
            return ft.Array(ft.Float32)
        if pa.types.is_floating(inner):
            return ft.Array(ft.Float64)
        if pa.types.is_integer(inner):
            return ft.Array(ft.Int64)
    raise StageError(f"column {column!r} has type {arrow_type}, which Feast cannot hold")


def feature_fields(path: Path, exclude: set[str], include: list[str] | None = None) -> list[Any]:
    """Feast ``Field`` objects for the feature columns of a Parquet file.

    Args:
        path: The Parquet file.
        exclude: Columns that are not features (join keys, timestamps).
        include: If given, only these columns, in this order (missing ones are skipped).

    Returns:
        One Field per feature column, in file order (or ``include`` order).

    """
    from feast import Field

    columns = parquet_columns(path)
    names = [c for c in include if c in columns] if include is not None else list(columns)
    return [Field(name=n, dtype=feast_dtype(columns[n], n)) for n in names if n not in exclude]
