"""The scale-out feature store against the real servers: Redis online store, PostgreSQL registry.

CI (``.ci/run``) starts both services before the suite; if one is down these tests FAIL with a
message naming it (they never skip). Each run uses its own Feast project, so its Redis keys and
registry rows never collide with another run's, and removes that project at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from fixtures.services import require_feast_services

from gfm.config import Config

pytestmark = pytest.mark.integration

VERSIONS = ("v20261001t000000_111111", "v20261002t000000_222222")


def _redis_keys(cfg: Config) -> int:
    import redis

    host, _, port = cfg.features.redis_connection.partition(":")
    client = redis.Redis(host=host, port=int(port or 6379))
    return sum(1 for _ in client.scan_iter(match=f"*{cfg.features.project}", count=1000))


def _registry_views(cfg: Config) -> set[str]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(cfg.features.registry_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text("select feature_view_name from feature_views where project_id = :project"),
            {"project": cfg.features.project},
        )
        names = {r[0] for r in rows}
    engine.dispose()
    return names


@pytest.fixture(scope="module")
def scale_out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    from fixtures.synthetic_marts import write_synthetic_marts

    from feature_repo.store import apply_definitions, materialize, publish_embeddings, remove_project

    project = f"gfmtest_{uuid.uuid4().hex[:10]}"
    cfg = Config(
        data_dir=tmp_path_factory.mktemp("scale_out"), features={"mode": "scale_out", "project": project}
    )
    require_feast_services(cfg)
    write_synthetic_marts(cfg.marts_dir)
    try:
        apply_definitions(cfg)
        materialize(cfg)
        for seed, version in enumerate(VERSIONS):
            vecs = np.random.default_rng(seed).normal(size=(40, cfg.hgnn.out_dim)).astype(np.float32)
            publish_embeddings(
                cfg, model="hgnn", entity="item", version=version, ids=np.arange(1, 41), vectors=vecs
            )
        yield cfg
    finally:
        remove_project(cfg)


def test_registry_lives_in_postgresql(scale_out: Config) -> None:
    views = _registry_views(scale_out)
    assert {"user_profile", "user_activity", "item_profile", "item_stats"} <= views
    assert {f"hgnn_item_embeddings_{v}" for v in VERSIONS} <= views


def test_online_values_are_served_from_redis(scale_out: Config) -> None:
    from feature_repo.client import EmbeddingClient

    assert _redis_keys(scale_out) > 0
    client = EmbeddingClient(scale_out)
    stats = client.get_features("item", [1, 2, 999], "item_stats")
    assert stats["n_streams_total"][0] is not None and stats["n_streams_total"][2] is None
    assert client.current_versions() == {"hgnn": VERSIONS[1]}
    for seed, version in enumerate(VERSIONS):
        got = client.get_item_embeddings([5, 999], version=version)
        assert got.found.tolist() == [True, False]
        want = np.random.default_rng(seed).normal(size=(40, scale_out.hgnn.out_dim)).astype(np.float32)[4]
        np.testing.assert_allclose(got.vectors[0], want, rtol=1e-6)


def test_materialize_twice_is_idempotent_on_redis(scale_out: Config) -> None:
    from feature_repo.store import materialize

    keys = _redis_keys(scale_out)
    again = materialize(scale_out)
    assert again.intervals == {} and _redis_keys(scale_out) == keys


def test_removing_the_project_clears_its_keys_and_registry_rows(scale_out: Config) -> None:
    from feature_repo.store import remove_project

    remove_project(scale_out)
    assert _redis_keys(scale_out) == 0
    assert _registry_views(scale_out) == set()
