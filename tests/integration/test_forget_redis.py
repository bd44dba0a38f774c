"""``gfm forget`` on the scale-out online store: the user's Redis hash is deleted, others stay.

Runs against the real Redis and PostgreSQL registry that CI starts (as
``test_feast_scale_out``), in a Feast project of its own that is removed at the end.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from fixtures.services import require_feast_services

from gfm.config import Config

pytestmark = pytest.mark.integration

VERSION = "v20261001t000000_333333"


def test_forget_deletes_the_users_redis_hash_and_keeps_the_others(tmp_path):
    from fixtures.synthetic_marts import write_synthetic_marts

    from feature_repo.client import EmbeddingClient
    from feature_repo.store import apply_definitions, materialize, publish_embeddings, remove_project
    from feature_repo.store.forget import forget_online

    cfg = Config(
        data_dir=tmp_path / "data",
        features={"mode": "scale_out", "project": f"gfmforget_{uuid.uuid4().hex[:10]}"},
    )
    require_feast_services(cfg)
    write_synthetic_marts(cfg.marts_dir)
    users = pd.read_parquet(cfg.marts_dir / "dim_users.parquet", columns=["user_id"])["user_id"]
    gone, kept = int(users.iloc[0]), int(users.iloc[1])
    try:
        apply_definitions(cfg)
        materialize(cfg)
        ids = users.to_numpy(dtype=np.int64)
        vecs = np.random.default_rng(0).normal(size=(len(ids), cfg.two_tower.dim)).astype(np.float32)
        publish_embeddings(cfg, model="two_tower", entity="user", version=VERSION, ids=ids, vectors=vecs)
        client = EmbeddingClient(cfg)
        assert client.get_user_embedding(gone) is not None

        assert forget_online(cfg, [gone, 10**15]) == {"redis keys": 1}
        client = EmbeddingClient(cfg)
        assert client.get_user_embedding(gone) is None and client.get_user_embedding(kept) is not None
        profile = client.get_features("user", [gone, kept], "user_profile")
        assert profile["country"][0] is None and profile["country"][1] is not None
        assert forget_online(cfg, [gone]) == {"redis keys": 0}  # twice is fine
    finally:
        remove_project(cfg)
