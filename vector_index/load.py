"""Load one exported version's vectors into its own Milvus collection.

``create_schema -> add_field -> prepare_index_params -> create_collection -> insert -> flush ->
load -> mark complete``. Loading a version that is already complete is a no-op; a collection
left partial by a crash (no completeness marker, or a row count that differs from the Parquet)
is dropped and rebuilt. A collection an alias points at is never dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gfm.config import IndexConfig
from gfm.errors import DimensionError, NotFoundError, StageError
from gfm.naming import export_path
from gfm.versioning import fingerprint_files
from vector_index.client import ensure_loaded
from vector_index.schema import ITEM_FIELDS, build_schema, collection_name, index_params, index_type_for
from vector_index.versions import clear_complete, collection_info, count_rows, mark_complete

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = ["LoadResult", "VersionData", "load_version", "read_version"]

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class VersionData:
    """One version's vectors and filter fields, read from Parquet."""

    ids: np.ndarray  # int64 (n,)
    vectors: np.ndarray  # float32 (n, dim)
    fields: dict[str, list[str]]  # item filter fields (empty for users)
    source: str  # content fingerprint of the Parquet file

    @property
    def content_types(self) -> list[str]:
        """Distinct content types (items only)."""
        return sorted(set(self.fields.get("content_type", [])))


@dataclass(frozen=True)
class LoadResult:
    """What ``load_version`` did."""

    collection: str
    rows: int
    index_type: str
    skipped: bool  # True when the version was already loaded completely
    rebuilt: bool  # True when a partial collection from a crashed load was replaced
    seconds: float


def read_version(embeddings_dir: Path, marts_dir: Path, entity: str, model: str, version: str) -> VersionData:
    """Read ``embeddings/<model>/<version>/<entity>s.parquet`` (+ item fields from ``dim_items``).

    Raises:
        NotFoundError: If the export (or, for items, ``dim_items.parquet``) is missing.
        DimensionError: If vectors have different lengths or hold NaN/Inf.
        StageError: If the file's ``version`` column names another version.

    """
    path = export_path(embeddings_dir, model, version, entity)
    if not path.exists():
        raise NotFoundError(f"no exported {entity} vectors for {model} {version}: {path}")
    table = pq.read_table(path)
    id_col = f"{entity}_id"
    ids = table.column(id_col).to_numpy().astype(np.int64)
    if "version" in table.column_names:
        found = set(table.column("version").to_pylist())
        if found - {version}:
            raise StageError(f"{path} holds vectors of other versions: {sorted(found - {version})}")
    vectors = _vectors(table.column("vector"), path)
    fields: dict[str, list[str]] = {}
    if entity == "item":
        fields = _item_fields(marts_dir / "dim_items.parquet", ids)
    return VersionData(ids=ids, vectors=vectors, fields=fields, source=fingerprint_files([path]))


def _vectors(column: pa.ChunkedArray, path: Path) -> np.ndarray:
    arr = column.combine_chunks()
    lengths = np.asarray(arr.value_lengths())
    if len(lengths) == 0:
        raise StageError(f"{path} holds no vectors")
    if (lengths != lengths[0]).any():
        raise DimensionError(f"{path}: vectors of different lengths {sorted(set(lengths.tolist()))[:5]}")
    flat = np.asarray(arr.flatten(), dtype=np.float32)
    if not np.isfinite(flat).all():
        raise DimensionError(f"{path}: vectors hold NaN or Inf")
    return flat.reshape(len(lengths), int(lengths[0]))


def _item_fields(dim_items: Path, ids: np.ndarray) -> dict[str, list[str]]:
    if not dim_items.exists():
        raise NotFoundError(f"item filter fields need {dim_items} (run `gfm transform`)")
    table = pq.read_table(dim_items, columns=["item_id", *ITEM_FIELDS]).to_pandas()
    table = table.set_index("item_id").reindex(ids)
    missing = int(table["content_type"].isna().sum())
    if missing:
        raise StageError(
            f"{missing} exported items are not in {dim_items} (e.g. {ids[table['content_type'].isna()][:5].tolist()})"
        )
    return {name: table[name].fillna("").astype(str).tolist() for name in ITEM_FIELDS}


def load_version(
    client: MilvusClient,
    cfg: IndexConfig,
    data: VersionData,
    entity: str,
    model: str,
    version: str,
    on_batch: ProgressFn | None = None,
) -> LoadResult:
    """Load a version into ``<entity>_<model>_<version>`` (idempotent; rebuilds partial loads).

    Args:
        client: The process's Milvus client.
        cfg: Index settings (index type threshold, HNSW parameters, batch size).
        data: The vectors, from ``read_version``.
        entity: ``item`` or ``user``.
        model: ``two_tower`` or ``hgnn``.
        version: The version id.
        on_batch: Called with (rows inserted, total rows) after each insert batch.

    Raises:
        StageError: If a partial collection is live (an alias points at it) or the row count
            after loading differs from the Parquet.

    """
    start = time.perf_counter()
    name = collection_name(entity, model, version)
    n = len(data.ids)
    rebuilt = False
    if client.has_collection(name):
        info = collection_info(client, name)
        if info.complete and info.expected_rows == n and info.source == data.source:
            ensure_loaded(client, name)
            return LoadResult(name, n, index_type_for(cfg, n), True, False, time.perf_counter() - start)
        if info.aliases:
            raise StageError(
                f"{name} is live (alias {info.aliases}) but differs from its Parquet; not dropping it"
            )
        clear_complete(client, name)
        client.drop_collection(name)  # partial: a crashed load, never a live one
        rebuilt = True
    client.create_collection(
        name,
        schema=build_schema(entity, data.vectors.shape[1], cfg.partition_key),
        index_params=index_params(cfg, n),
        consistency_level=cfg.consistency_level,
    )
    for lo in range(0, n, cfg.insert_batch):
        client.insert(name, _rows(data, lo, min(lo + cfg.insert_batch, n)))
        if on_batch is not None:
            on_batch(min(lo + cfg.insert_batch, n), n)
    client.flush(name)
    wait_for_index(client, name, n)
    ensure_loaded(client, name)
    loaded = count_rows(client, name)
    if loaded != n:
        raise StageError(f"{name}: {loaded} rows after load, expected {n} (duplicate ids in the export?)")
    mark_complete(client, name, n, data.content_types, data.source)
    return LoadResult(name, n, index_type_for(cfg, n), False, rebuilt, time.perf_counter() - start)


def wait_for_index(client: MilvusClient, name: str, rows: int, timeout: float = 3600.0) -> None:
    """Wait until the vector index covers every row (a server builds it in the background).

    Until then a server searches unindexed segments through its interim index (IVF, fixed
    nprobe), so recall is low whatever ``ef`` is and latency numbers mean nothing. The server
    2.3.5 reports ``state: Finished`` while most rows are still pending (measured: 4,075 of
    100,000 indexed), so the indexed row count decides, not the state. Milvus Lite reports every row
    indexed at once.

    Raises:
        StageError: If the index is not built within ``timeout`` seconds.

    """
    deadline = time.monotonic() + timeout
    while True:
        desc = client.describe_index(name, "vector")
        if "indexed_rows" in desc:
            # not pending_index_rows == 0: compaction keeps re-indexing merged segments for
            # minutes (1M rows: 574k pending after all 1M were indexed), and the server hands a
            # merged segment to search only once its index is built
            if int(desc["indexed_rows"]) >= rows:
                return
        elif desc.get("state") == "Finished":  # a client that reports no row counts
            return
        if time.monotonic() > deadline:
            raise StageError(
                f"{name}: index built for {desc.get('indexed_rows')} of {rows} rows after {timeout:.0f} s"
            )
        time.sleep(1.0)


def _rows(data: VersionData, lo: int, hi: int) -> list[dict[str, Any]]:
    ids = data.ids[lo:hi].tolist()
    vectors = data.vectors[lo:hi]
    rows: list[dict[str, Any]] = [{"id": i, "vector": v} for i, v in zip(ids, vectors, strict=True)]
    for field, values in data.fields.items():
        for row, value in zip(rows, values[lo:hi], strict=True):
            row[field] = value
    return rows
