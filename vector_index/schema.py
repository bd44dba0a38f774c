"""Collection names, schemas and index parameters.

One collection per (entity, model, version), e.g. ``item_two_tower_v20261130t013200_ab12cd``, and
one alias per (entity, model), e.g. ``item_two_tower``, that points at the live version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from gfm.config import IndexConfig
from gfm.naming import ENTITIES, MODELS, alias_name, collection_name
from gfm.versioning import VERSION_PATTERN

if TYPE_CHECKING:
    from pymilvus import CollectionSchema
    from pymilvus.milvus_client.index import IndexParams

__all__ = [
    "ENTITIES",
    "MODELS",
    "CollectionRef",
    "alias_name",
    "build_schema",
    "collection_name",
    "index_params",
    "parse_alias",
    "parse_collection_name",
    "search_params",
]

Entity = Literal["item", "user"]

ID_FIELD = "id"
VECTOR_FIELD = "vector"
# Scalar fields stored with items so that searches can filter on them.
ITEM_FIELDS: tuple[str, ...] = ("content_type", "language", "genre")
MAX_VARCHAR = 256

_NAME_RE = re.compile(f"^({'|'.join(ENTITIES)})_({'|'.join(MODELS)})_({VERSION_PATTERN})$")


@dataclass(frozen=True)
class CollectionRef:
    """The parts of a collection name."""

    entity: str
    model: str
    version: str

    @property
    def name(self) -> str:
        """The collection name."""
        return collection_name(self.entity, self.model, self.version)

    @property
    def alias(self) -> str:
        """The alias that points at the live version of this (entity, model)."""
        return alias_name(self.entity, self.model)


def parse_collection_name(name: str) -> CollectionRef | None:
    """Split a gfm collection name into its parts, or None for any other collection."""
    match = _NAME_RE.match(name)
    return CollectionRef(*match.groups()) if match else None


def parse_alias(alias: str) -> tuple[str, str]:
    """``(entity, model)`` of an alias such as ``item_two_tower``."""
    entity, _, model = alias.partition("_")
    alias_name(entity, model)  # checks both parts
    return entity, model


def build_schema(entity: str, dim: int, partition_key: bool) -> CollectionSchema:
    """Build the schema of one version's collection.

    Args:
        entity: ``item`` (with the filter fields) or ``user`` (id and vector only).
        dim: Vector dimension.
        partition_key: Make ``content_type`` the partition key (a type filter then scans only
            that type's partitions).

    """
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
    if entity == "item":
        for name in ITEM_FIELDS:
            schema.add_field(
                name,
                DataType.VARCHAR,
                max_length=MAX_VARCHAR,
                is_partition_key=partition_key and name == "content_type",
            )
    schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
    return schema


def index_type_for(cfg: IndexConfig, rows: int) -> str:
    """FLAT (exact) below ``cfg.flat_max_rows`` rows, HNSW from there on."""
    return "FLAT" if rows < cfg.flat_max_rows else "HNSW"


def index_params(cfg: IndexConfig, rows: int) -> IndexParams:
    """Vector index parameters chosen by collection size (see ``index_type_for``)."""
    from pymilvus import MilvusClient

    params = MilvusClient.prepare_index_params()
    kind = index_type_for(cfg, rows)
    extra: dict[str, Any] = {}
    if kind == "HNSW":
        extra = {"M": cfg.hnsw_m, "efConstruction": cfg.hnsw_ef_construction}
    params.add_index(field_name=VECTOR_FIELD, index_type=kind, metric_type=cfg.metric, params=extra)
    return params


def search_params(cfg: IndexConfig, k: int) -> dict[str, Any]:
    """Search-time parameters; HNSW needs ``ef >= k``."""
    return {"metric_type": cfg.metric, "params": {"ef": max(cfg.search_ef, k)}}
