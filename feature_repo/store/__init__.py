"""The Feast feature store: definitions, apply, materialize, training sets, published embeddings.

Public API (feast itself is imported lazily, inside the functions):

- ``get_store(cfg)``: a ``feast.FeatureStore`` configured from ``cfg.features``.
- ``apply_definitions(cfg, versions=None)``: register entities, views and services.
- ``materialize(cfg, end=None)``: incremental, idempotent; default end = training window end.
- ``get_training_frame(cfg, entity_df, features=None)``: point-in-time features.
- ``publish_embeddings(cfg, model=..., entity=..., version=..., ids=..., vectors=...)``.
"""

from feature_repo.store.catalog import Catalog, Published, read_catalog
from feature_repo.store.materialize import MaterializeResult, materialize, training_window_end
from feature_repo.store.publish import publish_embeddings, publish_export, publish_text_embeddings
from feature_repo.store.repo import apply_definitions, get_store, remove_project, write_feature_store_yaml
from feature_repo.store.training import get_training_frame, validate_entity_frame

__all__ = [
    "Catalog",
    "MaterializeResult",
    "Published",
    "apply_definitions",
    "get_store",
    "get_training_frame",
    "materialize",
    "publish_embeddings",
    "publish_export",
    "publish_text_embeddings",
    "read_catalog",
    "remove_project",
    "training_window_end",
    "validate_entity_frame",
    "write_feature_store_yaml",
]
