"""The embeddings gate's expectations on an exported vector file (docs/contracts.md, section 3).

Vectors are summarised per row with numpy (length, count of NaN/Inf, L2 norm) into a small frame
that GX validates; the vectors themselves are not handed to GX. Offending rows are reported by
id: ``nonfinite_item_id`` holds the id of a vector with NaN or Inf, null elsewhere.

A second batch, ``<entity>s_expected``, has one row per expected id and a ``missing_<entity>_id``
column that holds the ids with no vector: ``ExpectColumnValuesToBeNull`` on it counts and names
them, which scales to large catalogues where a set-containment expectation would not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import great_expectations.expectations as gxe
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gfm.errors import StageError
from validation.engine import Batch
from validation.expectations import DTYPES, ExpectColumnDtypeToBeIn, expect

NORM_TOLERANCE = 1e-3
ENTITIES = ("item", "user")


def embedding_batches(
    parquet_path: Path, *, entity: str, expected_ids: Sequence[int] | None, dim: int, unit_norm: bool
) -> list[Batch]:
    """Summarise the vectors of ``parquet_path`` and attach the expectations.

    Args:
        parquet_path: The exported file.
        entity: ``item`` or ``user``.
        expected_ids: Ids that must all have a vector; None skips the coverage batch.
        dim: The expected vector dimension.
        unit_norm: Whether vectors must be L2-normalised.

    Returns:
        The export batch, and the coverage batch when ``expected_ids`` is given.

    Raises:
        StageError: When ``entity`` is unknown or the file cannot be read.

    """
    if entity not in ENTITIES:
        raise StageError(f"unknown entity {entity!r}; expected one of {ENTITIES}")
    key = f"{entity}_id"
    try:
        table = pq.read_table(parquet_path)
    except (OSError, pa.ArrowException) as exc:
        raise StageError(f"cannot read embeddings {parquet_path}: {exc}") from exc
    frame = _summarise(table, key)
    expected = None if expected_ids is None else pd.Series(np.asarray(expected_ids, dtype=np.int64))
    if expected is not None and key in frame:
        frame[f"unknown_{key}"] = frame[key].astype("Int64").where(~frame[key].isin(expected))
    name = parquet_path.name
    batches = [Batch(f"{entity}s", str(parquet_path), frame, _export_checks(key, dim, unit_norm, expected))]
    if expected is not None:
        present = frame[key] if key in frame else pd.Series([], dtype=np.int64)
        coverage = pd.DataFrame(
            {key: expected, f"missing_{key}": expected.astype("Int64").where(~expected.isin(present))}
        )
        checks = [expect(gxe.ExpectColumnValuesToBeNull, f"every expected {entity} has a vector in {name}",
                         column=key, on=f"missing_{key}")]  # fmt: skip
        batches.append(Batch(f"{entity}s_expected", f"{parquet_path} (expected ids)", coverage, checks))
    return batches


def _summarise(table: pa.Table, key: str) -> pd.DataFrame:
    """Everything but the vectors, plus per-row ``vector_dim``, ``nonfinite_<key>`` and ``norm``."""
    frame = table.drop_columns([c for c in ("vector",) if c in table.column_names]).to_pandas()
    if "vector" not in table.column_names:
        return frame
    vectors = table.column("vector").combine_chunks()
    if not (pa.types.is_list(vectors.type) or pa.types.is_large_list(vectors.type)
            or pa.types.is_fixed_size_list(vectors.type)):  # fmt: skip
        frame["vector_dim"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
        return frame
    lengths = pc.list_value_length(vectors).to_numpy(zero_copy_only=False)
    valid = np.asarray(vectors.is_valid())
    sizes = np.where(valid, np.nan_to_num(lengths, nan=0), 0).astype(np.int64)
    values = np.asarray(pc.list_flatten(vectors).to_numpy(zero_copy_only=False), dtype=np.float64)
    rows = np.repeat(np.arange(len(sizes)), sizes)
    finite = np.isfinite(values)
    nonfinite = np.bincount(rows, weights=~finite, minlength=len(sizes)) > 0
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.sqrt(np.bincount(rows, weights=np.where(finite, values, 0.0) ** 2, minlength=len(sizes)))
    frame["vector_dim"] = pd.array(np.where(valid, sizes, 0), dtype="Int64")
    frame.loc[~valid, "vector_dim"] = pd.NA
    frame["norm"] = np.where(valid & ~nonfinite, norms, np.nan)
    if key in frame:
        frame[f"nonfinite_{key}"] = frame[key].astype("Int64").where(nonfinite)
    return frame


def _export_checks(key: str, dim: int, unit_norm: bool, expected: pd.Series | None) -> list[Any]:
    between = gxe.ExpectColumnValuesToBeBetween
    checks = [
        expect(ExpectColumnDtypeToBeIn, f"{key} is BIGINT", column=key, dtypes=DTYPES["id"]),
        expect(ExpectColumnDtypeToBeIn, "version is VARCHAR", column="version", dtypes=DTYPES["text"]),
        expect(ExpectColumnDtypeToBeIn, "created_at is TIMESTAMP UTC", column="created_at",
               dtypes=DTYPES["timestamp"]),
        expect(gxe.ExpectTableRowCountToBeBetween, "the file has rows", min_value=1),
        expect(gxe.ExpectColumnValuesToNotBeNull, f"{key} is not null", column=key),
        expect(gxe.ExpectColumnValuesToBeUnique, f"{key} is unique (one vector per id)", column=key),
        expect(gxe.ExpectColumnValuesToNotBeNull, "version is not null", column="version"),
        expect(gxe.ExpectColumnUniqueValueCountToBeBetween, "one version per file", column="version",
               min_value=1, max_value=1),
        expect(gxe.ExpectColumnValuesToNotBeNull, "vector is a non-null list", column="vector", on="vector_dim"),
        expect(between, f"vector has {dim} dimensions", column="vector", on="vector_dim",
               min_value=dim, max_value=dim),
        expect(gxe.ExpectColumnValuesToBeNull, "vector has no NaN or Inf (ids shown)", column="vector",
               on=f"nonfinite_{key}"),
    ]  # fmt: skip
    if unit_norm:
        checks.append(
            expect(between, f"vector has unit L2 norm (+/- {NORM_TOLERANCE})", column="vector", on="norm",
                   min_value=1 - NORM_TOLERANCE, max_value=1 + NORM_TOLERANCE)
        )  # fmt: skip
    if expected is not None:
        checks.append(
            expect(gxe.ExpectColumnValuesToBeNull, f"{key} is an expected id (unknown ids shown)", column=key,
                   on=f"unknown_{key}")
        )  # fmt: skip
    return checks
