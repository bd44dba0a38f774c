"""The Feast store factory and ``apply``.

Store configuration is derived from ``Config`` alone (``cfg.features.mode``):

- ``local`` (embedded default): offline store DuckDB (ibis) over the Parquet marts, online store
  SQLite at ``<feast_dir>/online.db``, file registry at ``<feast_dir>/registry.db``.
- ``scale_out``: the same offline store, the Redis online store at
  ``cfg.features.redis_connection`` and the SQL registry at ``cfg.features.registry_url``
  (PostgreSQL). Redis keys and registry rows are scoped by the Feast project
  (``cfg.features.project``), so several projects share the servers safely.

The offline store is DuckDB, or Spark with ``features.offline_store: spark`` (profile
``scale_out``): a local Spark session reading the same Parquet files through ``SparkSource``.

The effective settings are also written to ``<feast_dir>/feature_store.yaml`` so that the
``feast`` CLI can inspect the store: ``feast -c <feast_dir> feature-views list``.

Passwords (``gfm.secrets``) never enter that file or ``repo_config``'s dict: they stand there as
``${GFM_REDIS_PASSWORD}``-style placeholders, which the ``feast`` CLI fills from its environment
and ``get_store`` fills from the secrets in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from feature_repo.store import catalog, definitions
from gfm.config import Config
from gfm.naming import embedding_view_name
from gfm.secrets import expand_placeholders, placeholder, read_secret, require_secret

if TYPE_CHECKING:
    from feast import FeatureStore

REGISTRY_CACHE_TTL_S = 60


def repo_config(cfg: Config) -> dict[str, Any]:
    """The ``feature_store.yaml`` content for this config, as a dict with absolute paths."""
    feast_dir = cfg.feast_dir.resolve()
    fc = cfg.features
    registry: dict[str, Any]
    online: dict[str, Any]
    if fc.mode == "scale_out":
        registry = {
            "registry_type": "sql",
            "path": fc.registry_url,
            "cache_ttl_seconds": REGISTRY_CACHE_TTL_S,
            "sqlalchemy_config_kwargs": {"echo": False, "pool_pre_ping": True, **_registry_auth(cfg)},
        }
        online = {"type": "redis", "connection_string": fc.redis_connection + _redis_auth(cfg)}
    else:
        registry = {
            "registry_type": "file",
            "path": str(feast_dir / "registry.db"),
            "cache_ttl_seconds": REGISTRY_CACHE_TTL_S,
        }
        online = {"type": "sqlite", "path": str(feast_dir / "online.db")}
    return {
        "project": fc.project,
        "provider": "local",
        "registry": registry,
        "online_store": online,
        "offline_store": offline_store_config(cfg),
        "entity_key_serialization_version": 3,
    }


def _redis_auth(cfg: Config) -> str:
    """``,username=...,password=${...}`` for a Redis ACL user or password (placeholder only)."""
    fc = cfg.features
    auth = f",username={fc.redis_user}" if fc.redis_user else ""
    if fc.redis_user or read_secret(fc.redis_password_env, cfg.secrets_file) is not None:
        auth += f",password={placeholder(fc.redis_password_env)}"
    return auth


def _registry_auth(cfg: Config) -> dict[str, Any]:
    """The registry password as a driver argument (placeholder only), when the secret is set."""
    name = cfg.features.registry_password_env
    if read_secret(name, cfg.secrets_file) is None:
        return {}
    return {"connect_args": {"password": placeholder(name)}}


def _secret_values(cfg: Config) -> dict[str, str]:
    """The secrets ``repo_config`` names by placeholder (scale-out only)."""
    fc = cfg.features
    if fc.mode != "scale_out":
        return {}
    values = {}
    if fc.redis_user:
        values[fc.redis_password_env] = require_secret(
            fc.redis_password_env, f"the Redis user {fc.redis_user!r}", cfg.secrets_file
        )
    for name in (fc.redis_password_env, fc.registry_password_env):
        value = read_secret(name, cfg.secrets_file)
        if value is not None:
            values[name] = value
    return values


def offline_store_config(cfg: Config) -> dict[str, Any]:
    """The offline store: DuckDB (embedded) or a Spark session (``features.offline_store``)."""
    if cfg.features.offline_store != "spark":
        return {"type": "duckdb"}
    return {
        "type": "spark",
        "spark_conf": {
            "spark.master": cfg.features.spark_master,
            "spark.ui.enabled": "false",
            # Parquet timestamps are instants; read and join them in UTC, as DuckDB does
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": "4",
        },
    }


def write_feature_store_yaml(cfg: Config) -> Path:
    """Write the effective ``feature_store.yaml`` into ``cfg.feast_dir`` and return its path."""
    cfg.feast_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.feast_dir / "feature_store.yaml"
    path.write_text(yaml.safe_dump(repo_config(cfg), sort_keys=False))
    return path


def get_store(cfg: Config) -> FeatureStore:
    """A ``feast.FeatureStore`` for this config (imports feast: several seconds the first time)."""
    from feast import FeatureStore, RepoConfig

    cfg.feast_dir.mkdir(parents=True, exist_ok=True)
    settings = expand_placeholders(repo_config(cfg), _secret_values(cfg))
    repo = RepoConfig(repo_path=cfg.feast_dir.resolve(), **settings)
    return FeatureStore(repo_path=str(cfg.feast_dir.resolve()), config=repo)


def published_objects(
    cfg: Config, versions: list[str] | None = None, ents: dict[str, Any] | None = None
) -> list[Any]:
    """Embedding views and their feature services for published versions (all when None).

    ``ents`` are entity objects to reuse (the ``feast`` CLI dedupes objects by identity).
    """
    cat = catalog.read_catalog(cfg.feast_dir)
    entries = [p for p in cat.published if versions is None or p.version in versions]
    views: dict[str, Any] = {}
    by_version: dict[str, list[Any]] = {}
    for p in entries:
        if p.model == "text" and versions is None and p.version != cat.current.get("text"):
            continue  # one item_text_embedding view: the current text model key
        view = definitions.embedding_view(
            p.model, p.entity, p.version, Path(p.path), p.dim, ents, cfg.features.offline_store
        )
        views[view.name] = view
        if p.model != "text":
            by_version.setdefault(p.version, []).append(view)
    objects: list[Any] = list(views.values())
    for version, outs in sorted(by_version.items()):
        objects.append(definitions.embeddings_service(version, outs))
    return objects


def training_objects(
    cfg: Config, core: list[Any], versions: list[str] | None = None, views: dict[str, Any] | None = None
) -> list[Any]:
    """``two_tower_training_<version>`` services: the core views plus the recorded HGNN input.

    ``views`` are embedding view objects to reuse by name (the ``feast`` CLI dedupes by identity).
    """
    cat = catalog.read_catalog(cfg.feast_dir)
    services = []
    for version in cat.versions("two_tower"):
        if versions is not None and version not in versions:
            continue
        entry = cat.find("two_tower", "item", version) or cat.find("two_tower", "user", version)
        inputs = list(core)
        hgnn = entry.inputs.get("hgnn") if entry else None
        hgnn_entry = cat.find("hgnn", "item", hgnn) if hgnn else None
        if hgnn_entry is not None:
            name = embedding_view_name("hgnn", "item", hgnn_entry.version)
            view = (views or {}).get(name) or definitions.embedding_view(
                "hgnn",
                "item",
                hgnn_entry.version,
                Path(hgnn_entry.path),
                hgnn_entry.dim,
                engine=cfg.features.offline_store,
            )
            inputs.append(view)
        services.append(definitions.training_service(version, inputs))
    return services


def apply_definitions(cfg: Config, versions: list[str] | None = None) -> list[str]:
    """Register entities, the mart feature views and the published embedding views/services.

    Idempotent: re-applying unchanged definitions changes nothing.

    Args:
        cfg: The config (paths and store mode).
        versions: Only register these published versions (all published versions when None).

    Returns:
        The names of the objects applied.

    Raises:
        StageError: If the marts are missing.

    """
    ents = definitions.entities()
    core = definitions.core_feature_views(
        cfg.marts_dir, cfg.features.ttl_days, ents=ents, engine=cfg.features.offline_store
    )
    objects: list[Any] = [*ents.values(), *core]
    published = published_objects(cfg, versions, ents)
    objects += published
    objects += training_objects(cfg, core, versions, {o.name: o for o in published})
    write_feature_store_yaml(cfg)
    get_store(cfg).apply(objects)
    return [o.name for o in objects]


def remove_project(cfg: Config) -> None:
    """Delete this config's Feast project: online tables/keys and registry entries.

    Unlike ``FeatureStore.teardown`` (which deletes every project in the registry), this only
    touches ``cfg.features.project``, so it is safe on a shared PostgreSQL registry. Removing a
    project that does not exist does nothing.
    """
    store = get_store(cfg)
    if store.project not in {p.name for p in store.list_projects(allow_cache=False)}:
        return
    views = store.list_feature_views()
    store._get_provider().teardown_infra(store.project, views, store.list_entities())
    store.registry.delete_project(store.project, commit=True)
