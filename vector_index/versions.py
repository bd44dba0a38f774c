"""Versions and aliases: what is loaded, what is complete, what is live.

A collection is *complete* when its row in the ``gfm_index_meta`` collection exists and its
``rows`` equals the collection's row count. That row is written last, after insert and flush, so
a load killed midway leaves a collection without it, which ``publish`` refuses and the next
``load_version`` rebuilds. (The marker is a row, not a collection property: Milvus 2.3.5 loses
altered properties on restart, measured.) The alias is
swapped in one ``alter_alias`` call, so a crash leaves it on the old or on the new complete
version, never in between.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gfm.errors import NotFoundError, StageError
from vector_index.schema import alias_name, collection_name, parse_alias, parse_collection_name

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = [
    "CollectionInfo",
    "collection_info",
    "count_rows",
    "drop_version",
    "list_versions",
    "live_version",
    "publish",
    "rollback",
    "unpoint",
]

META = "gfm_index_meta"


@dataclass(frozen=True)
class CollectionInfo:
    """One version's collection as Milvus describes it."""

    name: str
    entity: str
    model: str
    version: str
    dim: int
    rows: int
    expected_rows: int | None
    content_types: list[str] = field(default_factory=list)
    source: str = ""
    aliases: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every row of the source Parquet is in the collection."""
        return self.expected_rows is not None and self.rows == self.expected_rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, with ``complete``."""
        return {**asdict(self), "complete": self.complete}


def count_rows(client: MilvusClient, name: str) -> int:
    """Exact row count (a Strong-consistency ``count(*)``; the collection must be loaded)."""
    res = client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")
    return int(res[0]["count(*)"])


def collection_info(client: MilvusClient, name: str) -> CollectionInfo:
    """Describe a gfm collection (row count from its statistics, without loading it).

    Raises:
        NotFoundError: If the collection does not exist or is not a gfm collection.

    """
    ref = parse_collection_name(name)
    if ref is None or not client.has_collection(name):
        raise NotFoundError(f"no such version collection: {name!r}")
    desc = client.describe_collection(name)
    meta = _read_meta(client, name)
    dim = next(int(f["params"]["dim"]) for f in desc["fields"] if f["name"] == "vector")
    return CollectionInfo(
        name=name,
        entity=ref.entity,
        model=ref.model,
        version=ref.version,
        dim=dim,
        rows=int(client.get_collection_stats(name)["row_count"]),
        expected_rows=int(meta["rows"]) if meta else None,
        content_types=json.loads(meta["content_types"]) if meta else [],
        source=str(meta["source"]) if meta else "",
        aliases=sorted(desc.get("aliases") or []),
    )


def _ensure_meta(client: MilvusClient) -> None:
    from pymilvus import DataType, MilvusClient

    from vector_index.client import ensure_loaded

    if not client.has_collection(META):
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("name", DataType.VARCHAR, max_length=256, is_primary=True)
        schema.add_field("rows", DataType.INT64)
        schema.add_field("content_types", DataType.VARCHAR, max_length=8192)
        schema.add_field("source", DataType.VARCHAR, max_length=128)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs one vector field
        params = MilvusClient.prepare_index_params()
        params.add_index(field_name="vector", index_type="FLAT", metric_type="L2")
        client.create_collection(META, schema=schema, index_params=params, consistency_level="Strong")
    ensure_loaded(client, META)


def _read_meta(client: MilvusClient, name: str) -> dict[str, Any] | None:
    if not client.has_collection(META):
        return None
    from vector_index.client import ensure_loaded

    ensure_loaded(client, META)
    rows = client.query(META, filter="", ids=[name], output_fields=["rows", "content_types", "source"])
    return dict(rows[0]) if rows else None


def mark_complete(client: MilvusClient, name: str, rows: int, content_types: list[str], source: str) -> None:
    """Record that ``name`` holds all ``rows`` rows (the last step of a load)."""
    _ensure_meta(client)
    row = {"name": name, "rows": rows, "content_types": json.dumps(sorted(content_types)), "source": source}
    # durable once acknowledged (Milvus writes it to its log first); no flush needed
    client.upsert(META, [{**row, "vector": [0.0, 0.0]}])


def clear_complete(client: MilvusClient, name: str) -> None:
    """Forget the completeness record of ``name`` (before it is dropped and rebuilt)."""
    if client.has_collection(META):
        _ensure_meta(client)
        client.delete(META, ids=[name])


def list_versions(client: MilvusClient) -> list[CollectionInfo]:
    """Every gfm version collection, sorted by (entity, model, version)."""
    refs = [r for r in (parse_collection_name(n) for n in client.list_collections()) if r is not None]
    refs.sort(key=lambda r: (r.entity, r.model, r.version))
    return [collection_info(client, r.name) for r in refs]


def live_version(client: MilvusClient, alias: str) -> str | None:
    """Return the version the alias points at, or None if the alias does not exist yet."""
    parse_alias(alias)
    if alias not in client.list_aliases().get("aliases", []):
        return None
    target = str(client.describe_alias(alias)["collection_name"])
    ref = parse_collection_name(target)
    return ref.version if ref else None


def _point_alias(client: MilvusClient, alias: str, name: str) -> None:
    if alias in client.list_aliases().get("aliases", []):
        client.alter_alias(name, alias)  # atomic: searches see the old or the new collection
    else:
        client.create_alias(name, alias)


def publish(client: MilvusClient, entity: str, model: str, version: str) -> str | None:
    """Point the (entity, model) alias at ``version``; call only after the gates passed.

    Returns:
        The previously live version (None if there was none).

    Raises:
        NotFoundError: If the version is not loaded.
        StageError: If the version's collection is incomplete (a load crashed midway).

    """
    name = collection_name(entity, model, version)
    info = collection_info(client, name)
    if not info.complete:
        raise StageError(
            f"refusing to publish {name}: {info.rows} rows, expected {info.expected_rows} "
            "(incomplete load; rerun `gfm index load`)"
        )
    alias = alias_name(entity, model)
    previous = live_version(client, alias)
    _point_alias(client, alias, name)
    return previous


def rollback(client: MilvusClient, alias: str, version: str) -> str | None:
    """Re-point ``alias`` (e.g. ``item_two_tower``) at an older complete version.

    Returns:
        The version that was live before.

    """
    entity, model = parse_alias(alias)
    return publish(client, entity, model, version)


def unpoint(client: MilvusClient, entity: str, model: str, version: str) -> bool:
    """Drop the (entity, model) alias if it points at ``version`` (undoing a first publish).

    Returns:
        Whether an alias was dropped.

    """
    alias = alias_name(entity, model)
    if live_version(client, alias) != version:
        return False
    client.drop_alias(alias)
    return True


def drop_version(client: MilvusClient, entity: str, model: str, version: str) -> bool:
    """Drop one version's collection and its completeness row, unless an alias points at it.

    Returns:
        Whether a collection was dropped (False when there was none).

    Raises:
        StageError: If the collection is live behind an alias.

    """
    name = collection_name(entity, model, version)
    if not client.has_collection(name):
        clear_complete(client, name)
        return False
    aliases = client.describe_collection(name).get("aliases") or []
    if aliases:
        raise StageError(f"refusing to drop {name}: alias {', '.join(aliases)} points at it")
    clear_complete(client, name)  # first: a drop stopped midway reads as incomplete, never complete
    client.drop_collection(name)
    return True
