"""Index operations on a whole ``Config``: what ``gfm index`` and ``gfm run`` call.

Each function opens (or reuses) the process's one Milvus client for ``cfg.milvus_uri``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gfm.config import Config
from vector_index import versions as _versions
from vector_index.client import role_client
from vector_index.load import LoadResult, load_version, read_version
from vector_index.schema import alias_name, collection_name

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = [
    "check_complete",
    "client_for",
    "drop_version",
    "index_version",
    "list_versions",
    "live_versions",
    "publish_version",
    "rollback",
    "unpublish_version",
]


def client_for(cfg: Config) -> MilvusClient:
    """Return the process's client for the configured Milvus (Lite file or server), as the writer."""
    return role_client(cfg, "writer")


def index_version(
    cfg: Config,
    model: str,
    version: str,
    entities: Sequence[str] = ("item", "user"),
    on_batch: Callable[[str, int, int], None] | None = None,
) -> list[LoadResult]:
    """Load a version's exported vectors into Milvus (idempotent; partial loads are rebuilt).

    Args:
        cfg: The config (data paths, ``index`` settings, Milvus URI).
        model: ``two_tower`` or ``hgnn``.
        version: The version id of the export.
        entities: Which exports to load.
        on_batch: Progress callback ``(entity, rows done, rows total)``.

    Returns:
        One result per entity.

    """
    client = client_for(cfg)
    results = []
    for entity in entities:
        data = read_version(cfg.embeddings_dir, cfg.marts_dir, entity, model, version)
        progress = None if on_batch is None else (lambda done, total, e=entity: on_batch(e, done, total))
        results.append(load_version(client, cfg.index, data, entity, model, version, on_batch=progress))
    return results


def publish_version(
    cfg: Config, model: str, version: str, entities: Sequence[str] = ("item", "user")
) -> dict[str, str | None]:
    """Swap the aliases of ``entities`` to ``version`` (after the gates passed).

    Every entity is checked complete before any alias moves, so a refusal changes nothing.

    Returns:
        ``{alias: previously live version}``.

    """
    client = client_for(cfg)
    for entity in entities:  # check all first: all or nothing
        info = _versions.collection_info(client, collection_name(entity, model, version))
        if not info.complete:
            _versions.publish(client, entity, model, version)  # raises with the reason
    return {alias_name(e, model): _versions.publish(client, e, model, version) for e in entities}


def check_complete(cfg: Config, targets: Sequence[tuple[str, str]], version: str) -> None:
    """Refuse unless every ``(entity, model)`` collection of ``version`` is complete.

    Raises:
        NotFoundError: A collection does not exist.
        StageError: A collection is incomplete.

    """
    client = client_for(cfg)
    for entity, model in targets:
        info = _versions.collection_info(client, collection_name(entity, model, version))
        if not info.complete:
            _versions.publish(client, entity, model, version)  # raises with the reason


def live_versions(cfg: Config) -> dict[str, str | None]:
    """``{alias: live version}`` for every (entity, model) alias gfm knows."""
    client = client_for(cfg)
    return {
        alias_name(e, m): _versions.live_version(client, alias_name(e, m))
        for m in ("two_tower", "hgnn")
        for e in ("item", "user")
    }


def unpublish_version(cfg: Config, targets: Sequence[tuple[str, str]], version: str) -> list[str]:
    """Drop the aliases of ``targets`` that point at ``version``; return the aliases dropped."""
    client = client_for(cfg)
    return [alias_name(e, m) for e, m in targets if _versions.unpoint(client, e, m, version)]


def drop_version(cfg: Config, version: str) -> list[str]:
    """Drop every collection of ``version`` that no alias points at; return the names dropped."""
    client = client_for(cfg)
    return [
        collection_name(e, m, version)
        for m in ("two_tower", "hgnn")
        for e in ("item", "user")
        if _versions.drop_version(client, e, m, version)
    ]


def list_versions(cfg: Config) -> list[dict[str, object]]:
    """Every loaded version with its row count, completeness and whether it is live."""
    client = client_for(cfg)
    out: list[dict[str, object]] = []
    for info in _versions.list_versions(client):
        live = _versions.live_version(client, alias_name(info.entity, info.model)) == info.version
        out.append({**info.to_dict(), "live": live})
    return out


def rollback(cfg: Config, alias: str, version: str) -> str | None:
    """Re-point ``alias`` (``item_two_tower``, or ``item/two_tower``) at ``version``.

    Returns:
        The version that was live before.

    """
    return _versions.rollback(client_for(cfg), alias.replace("/", "_"), version)
