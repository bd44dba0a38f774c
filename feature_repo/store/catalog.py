"""The catalog of published embedding versions and the "current" pointer per model.

A small JSON file, ``<feast_dir>/published/catalog.json``, beside the published Parquet files.
Feast's registry knows every feature view; this file adds what Feast does not track: which
version of each model is current, its dimension and what it was trained on. Updates take an
exclusive lock and replace the file atomically, so readers never see a half-written catalog.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from gfm.errors import NotFoundError, StageError

MODELS: tuple[str, ...] = ("hgnn", "two_tower", "text")
ENTITIES: dict[str, tuple[str, ...]] = {"hgnn": ("item",), "two_tower": ("item", "user"), "text": ("item",)}


class Published(BaseModel):
    """One published (model, entity, version) vector set."""

    model: str
    entity: str
    version: str
    path: str
    dim: int
    rows: int
    created_at: str
    inputs: dict[str, str] = Field(default_factory=dict)  # model -> version this one consumed


class Catalog(BaseModel):
    """Every published vector set, and the current version of each model."""

    current: dict[str, str] = Field(default_factory=dict)
    published: list[Published] = Field(default_factory=list)

    def versions(self, model: str) -> list[str]:
        """Published versions of a model, oldest first."""
        return sorted({p.version for p in self.published if p.model == model})

    def find(self, model: str, entity: str, version: str) -> Published | None:
        """The entry for (model, entity, version), or None."""
        for p in self.published:
            if (p.model, p.entity, p.version) == (model, entity, version):
                return p
        return None

    def resolve(self, model: str, entity: str, version: str | None) -> Published:
        """The entry to read for a request; ``version=None`` means the current version.

        Raises:
            NotFoundError: Unknown model, no current version, or an unknown version/entity.

        """
        if model not in MODELS:
            raise NotFoundError(f"unknown model {model!r}; known models: {', '.join(MODELS)}")
        if version is None:
            version = self.current.get(model)
            if version is None:
                raise NotFoundError(f"no published version of model {model!r} yet")
        entry = self.find(model, entity, version)
        if entry is None:
            known = ", ".join(self.versions(model)) or "none"
            raise NotFoundError(
                f"model {model!r} has no published {entity} vectors for version {version!r}; "
                f"published versions: {known}"
            )
        return entry


def catalog_path(feast_dir: Path) -> Path:
    """Where the catalog lives."""
    return feast_dir / "published" / "catalog.json"


def read_catalog(feast_dir: Path) -> Catalog:
    """The catalog (empty when nothing was published)."""
    path = catalog_path(feast_dir)
    if not path.exists():
        return Catalog()
    return Catalog.model_validate_json(path.read_text())


@contextmanager
def _locked(feast_dir: Path) -> Iterator[None]:
    lock = catalog_path(feast_dir).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalog-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def record(feast_dir: Path, entry: Published, make_current: bool = True) -> Catalog:
    """Add or replace an entry and optionally make its version the model's current one.

    Returns:
        The catalog as written.

    """
    with _locked(feast_dir):
        catalog = read_catalog(feast_dir)
        catalog.published = [
            p
            for p in catalog.published
            if (p.model, p.entity, p.version) != (entry.model, entry.entity, entry.version)
        ]
        catalog.published.append(entry)
        if make_current:
            catalog.current[entry.model] = entry.version
        _write_atomic(catalog_path(feast_dir), catalog.model_dump(mode="json"))
        return catalog


def set_current(feast_dir: Path, versions: dict[str, str]) -> Catalog:
    """Point several models at versions in one atomic write (``{"hgnn": v, "two_tower": v}``).

    Raises:
        NotFoundError: If a model has no published entry for its version (nothing is written).

    """
    with _locked(feast_dir):
        catalog = read_catalog(feast_dir)
        for model, version in versions.items():
            if not any(p.model == model and p.version == version for p in catalog.published):
                raise NotFoundError(f"model {model!r} has no published version {version!r}")
        catalog.current.update(versions)
        _write_atomic(catalog_path(feast_dir), catalog.model_dump(mode="json"))
        return catalog


def forget(feast_dir: Path, version: str) -> list[Published]:
    """Remove every entry of ``version`` (never a current one); return the entries removed.

    Raises:
        StageError: If ``version`` is current for a model.

    """
    with _locked(feast_dir):
        catalog = read_catalog(feast_dir)
        current = [m for m, v in catalog.current.items() if v == version]
        if current:
            raise StageError(f"version {version} is current for {', '.join(current)}; not removed")
        gone = [p for p in catalog.published if p.version == version]
        if gone:
            catalog.published = [p for p in catalog.published if p.version != version]
            _write_atomic(catalog_path(feast_dir), catalog.model_dump(mode="json"))
        return gone


def unset_current(feast_dir: Path, version: str) -> list[str]:
    """Drop the current pointer of every model that points at ``version``; return those models."""
    with _locked(feast_dir):
        catalog = read_catalog(feast_dir)
        models = [m for m, v in catalog.current.items() if v == version]
        if models:
            catalog.current = {m: v for m, v in catalog.current.items() if v != version}
            _write_atomic(catalog_path(feast_dir), catalog.model_dump(mode="json"))
        return models
