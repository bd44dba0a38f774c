"""``EmbeddingClient``: how downstream teams read published embeddings and features from Feast.

Example::

    from feature_repo.client import EmbeddingClient

    client = EmbeddingClient()                        # GFM_DATA_DIR, else ./.gfm (or a path, a Config)
    client.current_versions()                        # {"hgnn": "v2026...", "two_tower": "v2026..."}
    client.versions()                                # every published (model, entity, version)
    client.content_types()                           # ["audiobook", "podcast"]
    found = client.get_item_embeddings([1, 2, 3])     # current HGNN version
    found.vectors[found.found]                        # rows of the ids that have a vector
    client.get_item_embeddings([1], version="v2026...")  # a pinned version
    client.get_user_embedding(42)                     # None when the user has no vector
    client.get_features("item", [1, 2], "item_stats")

Unknown ids are not errors: they come back marked missing. An unknown model, version or view
raises ``gfm.errors.NotFoundError``. Reads go to the online store (SQLite or Redis, per config).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from feature_repo.store import catalog
from feature_repo.store.definitions import ENTITY_KEYS, VECTOR_FIELD
from gfm.config import Config
from gfm.errors import InvalidInputError, NotFoundError
from gfm.naming import embedding_view_name

__all__ = ["EmbeddingClient", "Embeddings"]


@dataclass(frozen=True)
class Embeddings:
    """Vectors for requested ids, in request order.

    Attributes:
        ids: The requested ids (int64).
        vectors: float32 array (len(ids), dim); rows of missing ids are NaN.
        found: Boolean mask, False where the id has no vector in this version.
        model: The model read.
        version: The version read (resolved when None was asked).

    """

    ids: np.ndarray
    vectors: np.ndarray
    found: np.ndarray
    model: str
    version: str

    @property
    def missing(self) -> np.ndarray:
        """The ids without a vector."""
        missing: np.ndarray = self.ids[~self.found]
        return missing


class EmbeddingClient:
    """Read published embeddings and online features by key."""

    def __init__(self, cfg: Config | Path | str | None = None) -> None:
        """Open the store of a config, of a data directory, or (None) of the environment's.

        With None the config is loaded as ``gfm`` loads it: ``GFM_DATA_DIR`` (else ``./.gfm``),
        ``GFM_CONFIG`` and ``GFM__...`` overrides.
        """
        if isinstance(cfg, Config):
            self._cfg = cfg
        else:
            self._cfg = Config.load(data_dir=Path(cfg) if cfg is not None else None)
        self._store: Any = None

    @property
    def store(self) -> Any:
        """The ``feast.FeatureStore`` (opened on first use: importing feast takes seconds)."""
        if self._store is None:
            from feature_repo.store.repo import get_store

            self._store = get_store(self._cfg)
        return self._store

    def current_versions(self) -> dict[str, str]:
        """The current published version of each model."""
        return dict(catalog.read_catalog(self._cfg.feast_dir).current)

    def list_versions(self) -> dict[str, list[str]]:
        """Every published version of each model, oldest first."""
        cat = catalog.read_catalog(self._cfg.feast_dir)
        return {m: cat.versions(m) for m in catalog.MODELS if cat.versions(m)}

    def versions(self) -> list[dict[str, Any]]:
        """Every published (model, entity, version): dim, rows, when, and whether it is current.

        Oldest first; an empty list before anything was published.
        """
        cat = catalog.read_catalog(self._cfg.feast_dir)
        return [
            {
                "model": p.model,
                "entity": p.entity,
                "version": p.version,
                "dim": p.dim,
                "rows": p.rows,
                "created_at": p.created_at,
                "current": cat.current.get(p.model) == p.version,
            }
            for p in cat.published
        ]

    def content_types(self) -> list[str]:
        """The content types of the catalogue (``dim_items``, the source of ``item_profile``).

        Raises:
            NotFoundError: If the marts have not been built (``gfm transform``).

        """
        path = self._cfg.marts_dir / "dim_items.parquet"
        if not path.exists():
            raise NotFoundError(f"{path} not found: run `gfm transform` first")
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        column = pq.read_table(path, columns=["content_type"]).column("content_type")
        return sorted(str(t) for t in pc.unique(column).to_pylist() if t is not None)

    def get_item_embeddings(self, ids: Any, model: str = "hgnn", version: str | None = None) -> Embeddings:
        """Item vectors of a model version (None: the current version).

        Raises:
            NotFoundError: Unknown model, or version not published for items.

        """
        return self._vectors("item", ids, model, version)

    def get_user_embedding(
        self, user_id: int, model: str = "two_tower", version: str | None = None
    ) -> np.ndarray | None:
        """One user's vector, or None when the user has none in that version.

        Raises:
            NotFoundError: Unknown model, or version not published for users.

        """
        result = self._vectors("user", [user_id], model, version)
        return result.vectors[0] if result.found[0] else None

    def get_features(self, entity: str, ids: Any, view: str) -> dict[str, np.ndarray]:
        """Online feature values of one view: ``{join key: ids, feature: values, ...}``.

        Missing ids get null values (NaN for numbers, None for strings).

        Raises:
            NotFoundError: Unknown entity or feature view.

        """
        key = self._key(entity)
        fv = self._feature_view(view)
        features = [f"{view}:{f.name}" for f in fv.features]
        rows = self._online(key, ids, features)
        return {name: np.asarray(values) for name, values in rows.items()}

    # ---- internals --------------------------------------------------------------------------
    def _vectors(self, entity: str, ids: Any, model: str, version: str | None) -> Embeddings:
        entry = catalog.read_catalog(self._cfg.feast_dir).resolve(model, entity, version)
        view = embedding_view_name(model, entity, entry.version)
        self._feature_view(view)
        key = self._key(entity)
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        if id_array.size == 0:
            empty = np.zeros((0, entry.dim), dtype=np.float32)
            return Embeddings(id_array, empty, np.zeros(0, dtype=bool), model, entry.version)
        values = self._online(key, id_array, [f"{view}:{VECTOR_FIELD}"])[VECTOR_FIELD]
        found = np.array([v is not None for v in values], dtype=bool)
        vectors = np.full((len(id_array), entry.dim), np.nan, dtype=np.float32)
        if found.any():
            vectors[found] = np.asarray([v for v in values if v is not None], dtype=np.float32)
        return Embeddings(id_array, vectors, found, model, entry.version)

    def _key(self, entity: str) -> str:
        if entity not in ENTITY_KEYS:
            raise NotFoundError(f"unknown entity {entity!r}; known: {', '.join(ENTITY_KEYS)}")
        return ENTITY_KEYS[entity]

    def _feature_view(self, name: str) -> Any:
        from feast.errors import FeatureViewNotFoundException

        for attempt in range(2):
            try:
                return self.store.get_feature_view(name, allow_registry_cache=True)
            except FeatureViewNotFoundException:
                if attempt == 0:  # maybe published by another process since our cache: re-read once
                    self.store.refresh_registry()
        raise NotFoundError(f"unknown feature view {name!r}")

    def _online(self, key: str, ids: Any, features: list[str]) -> dict[str, list[Any]]:
        id_list = [int(i) for i in np.asarray(ids).reshape(-1)]
        if not id_list:
            raise InvalidInputError("no ids given", field="ids", value=[])
        response = self.store.get_online_features(features=features, entity_rows=[{key: i} for i in id_list])
        result: dict[str, list[Any]] = response.to_dict()
        return result
