"""Feast definitions, built by functions that take the paths they read.

Why functions and not module-level objects: Feast definitions embed file paths, and the paths
come from the one ``Config`` (``Config.marts_dir``, ``Config.feast_dir``). ``gfm features apply``
builds the objects here and registers them with ``FeatureStore.apply([...])``. The
``feature_repo/`` folder keeps the Feast template layout for the ``feast`` CLI: each of its files
calls these functions with the paths of ``Config.load()`` and exposes module-level objects, so
both routes register identical definitions.

Order follows the Feast template: entity -> source -> feature view -> feature service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feature_repo.store.schema import feature_fields, mart_path
from gfm.naming import embedding_view_name, embeddings_service_name, training_service_name

if TYPE_CHECKING:
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource

VECTOR_FIELD = "vector"
EMBEDDING_TIMESTAMP = "valid_from"  # see feature_repo.store.publish: a version's vectors are static
ENTITY_KEYS = {"user": "user_id", "item": "item_id"}
OFFLINE_ENGINES = ("duckdb", "spark")  # features.offline_store: which source class reads the files


@dataclass(frozen=True)
class CoreView:
    """How a feature view maps onto a mart.

    Attributes:
        name: The feature view name.
        mart: The mart it reads.
        entity: ``user`` or ``item``.
        timestamp: The event-timestamp column.
        created: The created-timestamp column (ties between rows of the same time), if any.
        features: Explicit feature columns; None means every column but keys and timestamps.
        expires: Whether the config TTL applies (False: the value holds forever, e.g. a country).

    """

    name: str
    mart: str
    entity: str
    timestamp: str
    created: str | None
    features: tuple[str, ...] | None
    expires: bool


CORE_VIEWS: tuple[CoreView, ...] = (
    # who a user is: known from signup on, never expires
    CoreView("user_profile", "dim_users", "user", "signup_at", None, ("country", "age_bucket"), False),
    # what an item is: known from publication on
    CoreView(
        "item_profile",
        "dim_items",
        "item",
        "published_at",
        None,
        ("content_type", "language", "genre", "creator_id"),
        False,
    ),
    # rolling 90-day counts per content type and weak-signal counts, one row per user and day
    CoreView("user_activity", "user_features_daily", "user", "feature_at", "created_at", None, True),
    # popularity, age and listeners per day, one row per item and day
    CoreView("item_stats", "item_features_daily", "item", "feature_at", "created_at", None, True),
)
CORE_VIEW_NAMES = tuple(v.name for v in CORE_VIEWS)


def entities() -> dict[str, Entity]:
    """The two entities; their join keys are the dbt keys (BIGINT)."""
    from feast import Entity, ValueType

    return {
        "user": Entity(
            name="user", join_keys=["user_id"], value_type=ValueType.INT64, description="A listener."
        ),
        "item": Entity(
            name="item",
            join_keys=["item_id"],
            value_type=ValueType.INT64,
            description="A podcast, audiobook or other content item.",
        ),
    }


def parquet_source(
    name: str, path: Path, timestamp_field: str, created: str, description: str = "", engine: str = "duckdb"
) -> DataSource:
    """A source over one Parquet file, of the class the offline store ``engine`` reads.

    ``duckdb``: a ``FileSource``; ``spark``: a ``SparkSource`` over the same file (Feast's Spark
    offline store reads only those).
    """
    if engine == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

        return SparkSource(
            name=name,
            path=str(path),
            file_format="parquet",
            timestamp_field=timestamp_field,
            created_timestamp_column=created,
            description=description,
        )
    if engine != "duckdb":
        raise ValueError(f"unknown offline store engine {engine!r}: expected one of {OFFLINE_ENGINES}")
    from feast import FileSource

    return FileSource(
        name=name,
        path=str(path),
        timestamp_field=timestamp_field,
        created_timestamp_column=created,
        description=description,
    )


def mart_sources(marts_dir: Path, engine: str = "duckdb") -> dict[str, DataSource]:
    """One Parquet source per mart that a feature view reads, keyed by view name."""
    return {
        v.name: parquet_source(
            f"{v.mart}_source",
            mart_path(marts_dir, v.mart),
            v.timestamp,
            v.created or "",
            f"dbt mart {v.mart} exported to Parquet",
            engine,
        )
        for v in CORE_VIEWS
    }


def core_feature_views(
    marts_dir: Path,
    ttl_days: int,
    sources: dict[str, DataSource] | None = None,
    ents: dict[str, Entity] | None = None,
    engine: str = "duckdb",
) -> list[FeatureView]:
    """The four mart-backed feature views, fields read from the Parquet schemas.

    Args:
        marts_dir: Where the mart Parquet files are.
        ttl_days: TTL of the daily views (profiles never expire).
        sources: Source objects to reuse (``mart_sources``); built when None. The ``feast`` CLI
            dedupes objects by identity, so feature_repo/ passes the ones it already exposes.
        ents: Entity objects to reuse (``entities``); built when None.
        engine: The offline store's engine (``features.offline_store``), for sources built here.

    """
    from feast import FeatureView

    ents = ents or entities()
    sources = sources or mart_sources(marts_dir, engine)
    views = []
    for v in CORE_VIEWS:
        path = Path(sources[v.name].path)  # type: ignore[attr-defined]  # FileSource and SparkSource have it
        exclude = {ENTITY_KEYS[v.entity], v.timestamp, "created_at"}
        views.append(
            FeatureView(
                name=v.name,
                entities=[ents[v.entity]],
                ttl=timedelta(days=ttl_days) if v.expires else timedelta(0),
                schema=feature_fields(path, exclude, list(v.features) if v.features else None),
                source=sources[v.name],
                online=True,
                tags={"mart": v.mart},
            )
        )
    return views


def embedding_view(
    model: str,
    entity: str,
    version: str,
    path: Path,
    dim: int,
    ents: dict[str, Entity] | None = None,
    engine: str = "duckdb",
) -> FeatureView:
    """The feature view over a published embedding Parquet file (see feature_repo.store.publish)."""
    from feast import FeatureView, Field
    from feast.types import Array, Float32

    name = embedding_view_name(model, entity, version)
    source = parquet_source(
        f"{name}_source", path.resolve(), EMBEDDING_TIMESTAMP, "created_at", engine=engine
    )
    return FeatureView(
        name=name,
        entities=[(ents or entities())[entity]],
        ttl=timedelta(0),
        schema=[Field(name=VECTOR_FIELD, dtype=Array(Float32), vector_length=dim)],
        source=source,
        online=True,
        tags={"model": model, "entity": entity, "version": version, "dim": str(dim)},
    )


def embeddings_service(version: str, views: list[Any]) -> FeatureService:
    """``embeddings_<version>``: the vectors one model version produced (its outputs)."""
    from feast import FeatureService

    return FeatureService(
        name=embeddings_service_name(version), features=views, tags={"version": version, "role": "outputs"}
    )


def training_service(version: str, views: list[Any]) -> FeatureService:
    """``two_tower_training_<version>``: the features a two-tower version was trained on (inputs)."""
    from feast import FeatureService

    return FeatureService(
        name=training_service_name(version),
        features=views,
        tags={"version": version, "role": "inputs"},
    )
