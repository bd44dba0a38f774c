"""Per-entity feature services: stable names for the live version, versioned names for pinning.

- ``item_embeddings`` / ``user_embeddings``: the live version's vectors of one entity. They are
  re-applied whenever the live version moves (publish, rollback: ``pipeline.release``), so a team
  outside Python asks Feast for ``item_embeddings`` and never needs a version id.
- ``item_embeddings_<version>`` / ``user_embeddings_<version>``: the same, pinned to a version.

One entity per service, so ``get-online-features`` needs one join key. Each view is projected
under its model's name (``hgnn``, ``two_tower``): the features read ``hgnn__vector`` and
``two_tower__vector`` with ``full_feature_names``, the same for every version. (``item_embeddings``
holds two views whose feature is ``vector``: without ``full_feature_names`` Feast refuses the
duplicate name, so ask with it.) The mixed ``embeddings_<version>`` service stays for offline
reads that join both entities.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from feature_repo.store import catalog, definitions
from gfm.errors import NotFoundError
from gfm.naming import (
    ENTITIES,
    MODELS,
    embedding_view_name,
    embeddings_service_name,
    entity_service_name,
    training_service_name,
)

if TYPE_CHECKING:
    from feast import FeatureService

    from gfm.config import Config

__all__ = [
    "entity_services",
    "live_service_version",
    "point_live",
    "remove_version",
    "unpoint_live",
    "version_views",
]


def version_views(cfg: Config, version: str, ents: dict[str, Any] | None = None) -> list[Any]:
    """The embedding views of every (model, entity) that ``version`` published to Feast."""
    cat = catalog.read_catalog(cfg.feast_dir)
    return [
        definitions.embedding_view(
            p.model, p.entity, p.version, Path(p.path), p.dim, ents, cfg.features.offline_store
        )
        for p in cat.published
        if p.version == version and p.model in MODELS
    ]


def entity_services(views: list[Any], version: str, stable: bool = False) -> list[FeatureService]:
    """One service per entity over ``views`` (one version's): versioned, or the stable names."""
    from feast import FeatureService

    services = []
    for entity in ENTITIES:
        mine = sorted((v for v in views if v.tags.get("entity") == entity), key=lambda v: v.tags["model"])
        if not mine:
            continue
        services.append(
            FeatureService(
                name=entity_service_name(entity, None if stable else version),
                features=[v.with_name(v.tags["model"]) for v in mine],
                tags={"version": version, "entity": entity, "role": "live" if stable else "outputs"},
                description=f"{entity} vectors of "
                + ("the live version" if stable else f"version {version}")
                + f" ({version} when applied)",
            )
        )
    return services


def point_live(cfg: Config, version: str) -> None:
    """Make ``version`` what Feast calls current: the stable services, then the catalog pointer.

    Raises:
        NotFoundError: If the version has no published vectors in Feast.

    """
    from feature_repo.store.repo import get_store

    ents = definitions.entities()
    views = version_views(cfg, version, ents)
    if not views:
        raise NotFoundError(f"version {version} has no published vectors in Feast")
    get_store(cfg).apply([*ents.values(), *views, *entity_services(views, version, stable=True)])
    catalog.set_current(cfg.feast_dir, {m: version for m in {v.tags["model"] for v in views}})


def unpoint_live(cfg: Config, version: str) -> None:
    """Undo ``point_live`` of a first version: no stable services, no current pointer to it."""
    from feature_repo.store.repo import get_store

    store = get_store(cfg)
    stable = {entity_service_name(e) for e in ENTITIES}
    doomed: list[Any] = [
        s for s in store.list_feature_services() if s.name in stable and s.tags.get("version") == version
    ]
    if doomed:
        store.apply([], objects_to_delete=doomed, partial=False)
    catalog.unset_current(cfg.feast_dir, version)


def live_service_version(cfg: Config, entity: str = "item") -> str | None:
    """The version the stable service of ``entity`` resolves to (None before any publish)."""
    from feast.errors import FeatureServiceNotFoundException

    from feature_repo.store.repo import get_store

    try:
        service = get_store(cfg).get_feature_service(entity_service_name(entity), allow_cache=False)
    except FeatureServiceNotFoundException:
        return None
    return str(service.tags.get("version")) or None


def remove_version(cfg: Config, version: str) -> list[str]:
    """Remove a version from Feast: its views, services, online tables, Parquet files, catalog rows.

    Registry objects go first, the files next and the catalog rows last, so a removal stopped
    midway is found again and finished by the next call. A current version is refused.

    Returns:
        What was removed (object names and file paths).

    Raises:
        StageError: If the version is current for a model.

    """
    from feature_repo.store.repo import get_store

    cat = catalog.read_catalog(cfg.feast_dir)
    if version in cat.current.values():
        catalog.forget(cfg.feast_dir, version)  # raises with the reason
    store = get_store(cfg)
    view_names = {embedding_view_name(m, e, version) for m in MODELS for e in ENTITIES}
    service_names = {
        embeddings_service_name(version),
        training_service_name(version),
        *(entity_service_name(e, version) for e in ENTITIES),
    }
    doomed: list[Any] = [s for s in store.list_feature_services() if s.name in service_names]
    doomed += [v for v in store.list_feature_views() if v.name in view_names]
    removed = [o.name for o in doomed]
    if doomed:
        store.apply([], objects_to_delete=doomed, partial=False)
    for path in sorted((cfg.feast_dir / "published").glob(f"*_{version}.parquet")):
        path.unlink()
        removed.append(str(path))
    catalog.forget(cfg.feast_dir, version)
    return removed
