"""The feature store stage: Feast definitions by role, plus the code that runs the store.

- ``entities.py``, ``data_sources.py``, ``feature_views.py``, ``feature_services.py``: the Feast
  definitions, one role per file, for the ``feast`` CLI (``feast -c feature_repo plan``).
- ``feature_repo.store``: apply, materialize, point-in-time training sets and publishing
  (``gfm features ...`` and the pipeline use it).
- ``feature_repo.client.EmbeddingClient``: what downstream teams call for features and embeddings.

``store/`` and ``client.py`` are listed in ``.feastignore``, so ``feast apply`` imports only the
definitions.
"""
