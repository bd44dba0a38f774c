"""Every backing store with credentials: Redis ACL user, PostgreSQL password, Milvus RBAC.

Redis and PostgreSQL are private servers of this module (tests/fixtures/private_stores.py) that
check the password, so a wrong one fails here; the machine's shared servers stay as CI leaves
them. The Milvus server is the session's, with authentication on (conftest.py): the pipeline's
writer user may create, insert and drop, the service's reader may only read.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fixtures.index_suite_module import load_index_suite
from fixtures.milvus_server import MilvusStandalone
from fixtures.private_stores import PrivatePostgres, PrivateRedis

from gfm.config import Config
from gfm.secrets import SecretsError

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDIS_PASSWORD = "rd-" + secrets.token_urlsafe(12)
REGISTRY_PASSWORD = "pg-" + secrets.token_urlsafe(12)


def write_secrets(path: Path, values: dict[str, str]) -> Path:
    """A 0600 secrets file holding ``values``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(values, fh)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateRedis, PrivatePostgres]]:
    work = tmp_path_factory.mktemp("stores")
    with (
        PrivateRedis(work / "redis", "gfm_feast", REDIS_PASSWORD) as redis,
        PrivatePostgres("gfm_registry", REGISTRY_PASSWORD) as postgres,
    ):
        yield redis, postgres


def scale_out_config(
    data_dir: Path, stores: tuple[PrivateRedis, PrivatePostgres], secrets_file: Path
) -> Config:
    """A scale-out config on the private servers; the passwords are only in secrets."""
    redis, postgres = stores
    features: dict[str, Any] = {
        "mode": "scale_out",
        "project": f"gfmcred_{uuid.uuid4().hex[:8]}",
        "redis_connection": redis.connection,
        "redis_user": redis.user,
        "registry_url": postgres.url(),
    }
    return Config.load(
        data_dir=data_dir, environ={}, overrides={"features": features, "secrets_file": secrets_file}
    )


@pytest.fixture(scope="module")
def feast_cfg(
    tmp_path_factory: pytest.TempPathFactory, stores: tuple[PrivateRedis, PrivatePostgres]
) -> Iterator[Config]:
    from fixtures.synthetic_marts import write_synthetic_marts

    from feature_repo.store import apply_definitions, materialize, publish_embeddings

    data = tmp_path_factory.mktemp("feast_creds")
    # the Redis password from the environment, the registry's from the secrets file: both paths
    secrets_file = write_secrets(data / "secrets.yaml", {"GFM_REGISTRY_PASSWORD": REGISTRY_PASSWORD})
    cfg = scale_out_config(data / "data", stores, secrets_file)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GFM_REDIS_PASSWORD", REDIS_PASSWORD)
        write_synthetic_marts(cfg.marts_dir)
        apply_definitions(cfg)
        materialize(cfg)
        vecs = np.random.default_rng(0).normal(size=(40, cfg.hgnn.out_dim)).astype(np.float32)
        publish_embeddings(
            cfg,
            model="hgnn",
            entity="item",
            version="v20261001t000000_111111",
            ids=np.arange(1, 41),
            vectors=vecs,
        )
    yield cfg  # the Redis password is in the environment only while the fixture sets up


def test_feast_reads_and_writes_both_servers_with_their_passwords(feast_cfg: Config) -> None:
    from feature_repo.client import EmbeddingClient

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GFM_REDIS_PASSWORD", REDIS_PASSWORD)
        client = EmbeddingClient(feast_cfg)
        stats = client.get_features("item", [1, 999], "item_stats")
        assert stats["n_streams_total"][0] is not None and stats["n_streams_total"][1] is None
        assert client.get_item_embeddings([5], version="v20261001t000000_111111").found.tolist() == [True]


def test_feature_store_yaml_names_the_secrets_and_the_feast_cli_fills_them(feast_cfg: Config) -> None:
    text = (feast_cfg.feast_dir / "feature_store.yaml").read_text()
    assert REDIS_PASSWORD not in text and REGISTRY_PASSWORD not in text
    assert "${GFM_REDIS_PASSWORD}" in text and "${GFM_REGISTRY_PASSWORD}" in text
    env = {**os.environ, "GFM_REDIS_PASSWORD": REDIS_PASSWORD, "GFM_REGISTRY_PASSWORD": REGISTRY_PASSWORD}
    feast = Path(sys.executable).with_name("feast")
    listed = subprocess.run(
        [str(feast), "-c", str(feast_cfg.feast_dir), "feature-views", "list"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "item_stats" in listed.stdout


def test_a_wrong_registry_password_is_refused(
    tmp_path: Path, stores: tuple[PrivateRedis, PrivatePostgres]
) -> None:
    from feature_repo.store import get_store

    secrets_file = write_secrets(
        tmp_path / "s.yaml", {"GFM_REGISTRY_PASSWORD": "wrong", "GFM_REDIS_PASSWORD": "x"}
    )
    cfg = scale_out_config(tmp_path / "data", stores, secrets_file)
    with pytest.raises(Exception, match="password authentication failed"):
        get_store(cfg).list_projects(allow_cache=False)


def test_a_wrong_redis_password_is_refused(
    feast_cfg: Config, tmp_path: Path, stores: tuple[PrivateRedis, PrivatePostgres]
) -> None:
    from feature_repo.client import EmbeddingClient

    values = {"GFM_REGISTRY_PASSWORD": REGISTRY_PASSWORD, "GFM_REDIS_PASSWORD": "wrong"}
    cfg = feast_cfg.model_copy(update={"secrets_file": write_secrets(tmp_path / "s.yaml", values)})
    with pytest.raises(Exception, match="invalid username-password pair"):
        EmbeddingClient(cfg).get_features("item", [1], "item_stats")


def test_a_redis_user_without_its_password_names_the_missing_secret(
    tmp_path: Path, stores: tuple[PrivateRedis, PrivatePostgres]
) -> None:
    from feature_repo.store import get_store

    cfg = scale_out_config(tmp_path / "data", stores, write_secrets(tmp_path / "s.yaml", {}))
    with pytest.raises(SecretsError, match="GFM_REDIS_PASSWORD"):
        get_store(cfg)


# ---- Milvus: the reader role ------------------------------------------------------------------


@pytest.fixture
def milvus_cfg(tmp_path: Path, milvus_server: MilvusStandalone) -> Config:
    return Config.load(data_dir=tmp_path, environ={}, overrides=milvus_server.gfm_overrides())


def test_the_server_refuses_a_client_without_credentials(milvus_server: MilvusStandalone) -> None:
    from pymilvus import MilvusClient

    with pytest.raises(Exception, match=r"illegal connection params|UNAUTHENTICATED|auth"):
        MilvusClient(uri=milvus_server.uri, timeout=10).list_collections()


def test_the_reader_can_search_but_cannot_insert_drop_or_create(milvus_cfg: Config) -> None:
    from vector_index import ops
    from vector_index.client import role_client
    from vector_index.search import VectorSearcher
    from vector_index.versions import live_version

    suite = load_index_suite()
    version = "v20261115t000000_c0ffee"
    suite.write_export(milvus_cfg, "two_tower", version)
    [loaded] = ops.index_version(milvus_cfg, "two_tower", version, entities=("item",))  # the writer
    ops.publish_version(milvus_cfg, "two_tower", version, entities=("item",))

    reader = role_client(milvus_cfg, "reader")
    assert reader is not ops.client_for(milvus_cfg)
    assert live_version(reader, "item_two_tower") == version
    searcher = VectorSearcher(reader, milvus_cfg.index, "item", "two_tower")
    assert len(searcher.search([0.25] * suite.DIM, k=3)[0]) == 3

    collection = reader.describe_alias("item_two_tower")["collection_name"]
    row = {
        "id": 10**9,
        "content_type": "podcast",
        "language": "en",
        "genre": "x",
        "vector": [0.25] * suite.DIM,
    }
    denied = "permission deny|PERMISSION_DENIED"
    with pytest.raises(Exception, match=denied):
        reader.insert(collection, [row])
    with pytest.raises(Exception, match=denied):
        reader.delete(collection, filter="id >= 0")
    with pytest.raises(Exception, match=denied):
        reader.drop_collection(collection)
    with pytest.raises(Exception, match=denied):
        reader.drop_alias("item_two_tower")
    with pytest.raises(Exception, match=denied):
        reader.create_collection("gfm_reader_may_not", dimension=4)
    assert reader.get_collection_stats(collection)["row_count"] == loaded.rows  # nothing changed
    assert live_version(reader, "item_two_tower") == version
