"""The one writer (and reader) of exported vectors, docs/contracts.md section 3.

``embeddings/<model>/<version>/items.parquet`` and ``users.parquet`` (paths: ``gfm.naming``) hold
(``item_id``|``user_id`` BIGINT, ``version`` VARCHAR, ``vector`` list<float32>, ``created_at``
TIMESTAMP UTC). Text features use the same vector encoding without version/created_at.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gfm.errors import DimensionError, NotFoundError

__all__ = ["read_vectors", "vector_array", "write_table_atomic", "write_vectors"]

KeyColumn = Literal["item_id", "user_id"]


def vector_array(vectors: np.ndarray) -> pa.Array:
    """Convert a 2-D float array to an Arrow ``list<float32>`` column (zero-copy of the values).

    Raises:
        DimensionError: If the array is not 2-D or holds NaN/Inf.

    """
    if vectors.ndim != 2:
        raise DimensionError(f"vectors must be a 2-D array, got shape {vectors.shape}")
    values = np.ascontiguousarray(vectors, dtype=np.float32)
    bad = int((~np.isfinite(values)).any(axis=1).sum())
    if bad:
        raise DimensionError(f"{bad} vectors hold NaN or Inf")
    n, dim = values.shape
    flat = pa.array(values.reshape(-1))
    if n * dim < 2**31:
        return pa.ListArray.from_arrays(pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32)), flat)
    # more than 2^31 values do not fit 32-bit offsets: Arrow needs a large list
    return pa.LargeListArray.from_arrays(pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int64)), flat)


def write_table_atomic(table: pa.Table, path: Path) -> Path:
    """Write a Parquet table so that readers only ever see a whole file, even with concurrent writers.

    The table goes to a temporary file of this writer's own (process and random suffix) beside
    ``path``, which is then renamed over it; two jobs writing the same path (two trainings sharing
    a data dir, both refreshing the text cache) each rename a complete file, and the last one wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_vectors(
    path: Path,
    key: KeyColumn,
    ids: np.ndarray,
    vectors: np.ndarray,
    version: str | None,
    created_at: datetime | None = None,
) -> Path:
    """Write one export Parquet file in the contract's layout.

    Args:
        path: The output file (parent folders are created).
        key: ``item_id`` or ``user_id``.
        ids: int64 ids, one per row.
        vectors: float32 array of shape (len(ids), dim).
        version: The version string; None writes only (key, vector) as for text features.
        created_at: Timestamp of the export (now, UTC, when None).

    Returns:
        The path written.

    Raises:
        DimensionError: If the shapes disagree or a vector is not finite.

    """
    ids = np.asarray(ids, dtype=np.int64)
    if vectors.ndim != 2 or vectors.shape[0] != ids.shape[0]:
        raise DimensionError(f"{ids.shape[0]} ids but vectors of shape {vectors.shape}")
    columns: dict[str, pa.Array] = {key: pa.array(ids, type=pa.int64())}
    if version is not None:
        columns["version"] = pa.array([version] * len(ids), type=pa.string())
    columns["vector"] = vector_array(vectors)
    if version is not None:
        stamp = created_at or datetime.now(UTC)
        columns["created_at"] = pa.array([stamp] * len(ids), type=pa.timestamp("us", tz="UTC"))
    return write_table_atomic(pa.table(columns), path)


def read_vectors(path: Path, key: KeyColumn = "item_id") -> tuple[np.ndarray, np.ndarray]:
    """Read ids (int64) and vectors (float32, shape (n, dim)) from an export or text file.

    Raises:
        NotFoundError: If the file does not exist.
        DimensionError: If the vectors do not all have the same length.

    """
    if not path.exists():
        raise NotFoundError(f"vector file not found: {path}")
    table = pq.read_table(path, columns=[key, "vector"])
    ids = table.column(key).to_numpy().astype(np.int64, copy=False)
    column = table.column("vector").combine_chunks()
    n = len(column)
    if n == 0:
        return ids, np.zeros((0, 0), dtype=np.float32)
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if values.size % n:
        raise DimensionError(f"{path}: vectors have different lengths")
    dim = values.size // n
    lengths = np.diff(column.offsets.to_numpy())
    if (lengths != dim).any():
        raise DimensionError(
            f"{path}: vectors have different lengths ({int(lengths.min())}..{int(lengths.max())})"
        )
    return ids, values.reshape(n, dim)
