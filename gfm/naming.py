"""Every name built from a version, in one place (docs/contracts.md, section 3).

One version string names a model run everywhere: its checkpoint folder, its exported Parquet
files, its Feast feature views and services, and its Milvus collections. Each stage builds those
names with these functions, never from strings of its own.
"""

from __future__ import annotations

from pathlib import Path

from gfm.errors import NotFoundError
from gfm.versioning import check_version, is_version

__all__ = [
    "ENTITIES",
    "MODELS",
    "STABLE_SERVICES",
    "TEXT_VIEW",
    "alias_name",
    "audit_log_path",
    "checkpoint_dir",
    "collection_name",
    "embedding_view_name",
    "embeddings_service_name",
    "entity_service_name",
    "export_dir",
    "export_path",
    "release_record_path",
    "text_export_path",
    "tombstones_path",
    "training_service_name",
]

# what the vectors describe, and the models that export (and index) them per version
ENTITIES: tuple[str, ...] = ("item", "user")
MODELS: tuple[str, ...] = ("two_tower", "hgnn")
# the text vectors have one Feast view, keyed by the current text model rather than a version
TEXT_VIEW = "item_text_embedding"
# the Feast services that always resolve to the live version's vectors, one entity each
STABLE_SERVICES: dict[str, str] = {"item": "item_embeddings", "user": "user_embeddings"}


def release_record_path(data_dir: Path) -> Path:
    """``<data_dir>/releases.json``: the one record of which version is live (``gfm.releases``)."""
    return data_dir / "releases.json"


def audit_log_path(data_dir: Path) -> Path:
    """``<data_dir>/audit.jsonl``: who published, rolled back or removed what, when and why."""
    return data_dir / "audit.jsonl"


def tombstones_path(data_dir: Path) -> Path:
    """``<data_dir>/tombstones.json``: the users ``gfm forget`` removed (``gfm.tombstones``)."""
    return data_dir / "tombstones.json"


def checkpoint_dir(models_dir: Path, model: str, version: str) -> Path:
    """Return the folder of one checkpoint, ``<models_dir>/<model>/<version>``.

    Raises:
        StageError: If ``version`` is not a well-formed version id (it names folders and indexes).

    """
    return models_dir / model / check_version(version)


def export_dir(embeddings_dir: Path, model: str, version: str) -> Path:
    """``<embeddings_dir>/<model>/<version>``: the folder of one model version's exports."""
    return embeddings_dir / model / version


def export_path(embeddings_dir: Path, model: str, version: str, entity: str) -> Path:
    """``<embeddings_dir>/<model>/<version>/<entity>s.parquet``: one version's exported vectors."""
    return export_dir(embeddings_dir, model, version) / f"{entity}s.parquet"


def text_export_path(embeddings_dir: Path, model_key: str) -> Path:
    """``<embeddings_dir>/text/<model_key>/items.parquet``: the text vectors of one text model."""
    return embeddings_dir / "text" / model_key / "items.parquet"


def collection_name(entity: str, model: str, version: str) -> str:
    """``<entity>_<model>_<version>``, after checking every part (names are never free text).

    Raises:
        NotFoundError: If the entity or model is unknown or the version is not a version id.

    """
    _check(entity, model)
    if not is_version(version):
        raise NotFoundError(f"not a version id: {version!r} (expected e.g. v20261130t013200_ab12cd)")
    return f"{entity}_{model}_{version}"


def alias_name(entity: str, model: str) -> str:
    """``<entity>_<model>``: the Milvus alias of the live version.

    Raises:
        NotFoundError: If the entity or model is unknown.

    """
    _check(entity, model)
    return f"{entity}_{model}"


def embedding_view_name(model: str, entity: str, version: str) -> str:
    """The Feast view of one model version's vectors, e.g. ``hgnn_item_embeddings_<version>``."""
    return TEXT_VIEW if model == "text" else f"{model}_{entity}_embeddings_{version}"


def embeddings_service_name(version: str) -> str:
    """``embeddings_<version>``: the Feast service of the vectors one version produced."""
    return f"embeddings_{version}"


def entity_service_name(entity: str, version: str | None = None) -> str:
    """One entity's vectors: ``item_embeddings`` (the live version) or ``item_embeddings_<version>``.

    Raises:
        NotFoundError: If the entity is unknown.

    """
    if entity not in STABLE_SERVICES:
        raise NotFoundError(f"unknown entity {entity!r}; expected one of {list(STABLE_SERVICES)}")
    base = STABLE_SERVICES[entity]
    return base if version is None else f"{base}_{version}"


def training_service_name(version: str) -> str:
    """``two_tower_training_<version>``: the Feast service of a two-tower version's inputs."""
    return f"two_tower_training_{version}"


def _check(entity: str, model: str) -> None:
    if entity not in ENTITIES:
        raise NotFoundError(f"unknown entity {entity!r}; expected one of {list(ENTITIES)}")
    if model not in MODELS:
        raise NotFoundError(f"unknown model {model!r}; expected one of {list(MODELS)}")
