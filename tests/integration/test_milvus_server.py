"""The index suite and the HTTP service against a real Milvus standalone server.

The server (PyPI ``milvus==2.3.5``) is started once for the session in a private network
namespace (it listens on all interfaces otherwise) and reached through a loopback forwarder; see
``tests/fixtures/milvus_server.py``. Each test starts from an empty server (its gfm collections dropped).
Authentication is on: the pipeline connects as the writer user, the service as the read-only
reader (vector_index/rbac.py), their passwords in a secrets file (tests/integration/test_credentials.py
proves the reader cannot write).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures.index_suite_module import load_index_suite
from fixtures.milvus_server import MilvusStandalone

from gfm.config import Config
from vector_index import close_clients, ops
from vector_index.service import create_app
from vector_index.users import ParquetUserVectors
from vector_index.versions import META

pytestmark = [pytest.mark.integration, pytest.mark.slow]

suite = load_index_suite()


def _reset(client: Any) -> None:
    for alias in client.list_aliases().get("aliases", []):
        client.drop_alias(alias)
    for name in client.list_collections():
        if name == META:  # emptied rather than dropped: creating it costs seconds on the server
            client.delete(META, filter='name != ""')
        else:
            client.drop_collection(name)


@pytest.fixture
def cfg(tmp_path: Path, milvus_server: MilvusStandalone) -> Config:
    config = Config.load(data_dir=tmp_path, environ={}, overrides=milvus_server.gfm_overrides())
    _reset(ops.client_for(config))  # test isolation only: the library never drops on start-up
    return config


class TestServer(suite.IndexSuite):  # type: ignore[name-defined,misc]
    """The same behaviours as on Milvus Lite, on the server."""


def test_service_answers_every_endpoint_on_the_server(cfg: Config) -> None:
    suite.write_export(cfg, "two_tower", suite.V1)
    ops.index_version(cfg, "two_tower", suite.V1)
    ops.publish_version(cfg, "two_tower", suite.V1)
    users = ParquetUserVectors(cfg.embeddings_dir / "two_tower" / suite.V1 / "users.parquet")
    with TestClient(create_app(cfg, user_vectors=users)) as api:
        assert api.get("/healthz").json()["status"] == "ok"
        assert {v["alias"] for v in api.get("/v1/versions").json()["live"]} == {
            "item_two_tower",
            "user_two_tower",
        }
        similar = api.get("/v1/items/20/similar", params={"type": "podcast", "k": 5}).json()
        assert len(similar["results"]) == 5 and 20 not in [r["id"] for r in similar["results"]]
        assert len(api.get("/v1/users/7/recommendations").json()["results"]) == 10
        assert api.post("/v1/search", json={"vector": [0.25] * suite.DIM, "k": 3}).status_code == 200
        assert api.get("/v1/items/20/similar", params={"type": 'podcast" or true'}).status_code == 422
        assert api.post("/v1/search", json={"vector": [0.25] * (suite.DIM + 1)}).status_code == 422
        assert api.get("/v1/items/11/similar").status_code == 404


def test_data_survives_a_server_restart_and_loads_again(cfg: Config, milvus_server: MilvusStandalone) -> None:
    suite.write_export(cfg, "two_tower", suite.V1)
    ops.index_version(cfg, "two_tower", suite.V1, entities=("item",))
    ops.publish_version(cfg, "two_tower", suite.V1, entities=("item",))
    close_clients()
    milvus_server.stop()
    milvus_server.start()  # the first load after a restart may fail once ('node not match'): retried
    cfg.index.uri = milvus_server.uri
    [again] = ops.index_version(cfg, "two_tower", suite.V1, entities=("item",))
    assert again.skipped and again.rows == 300
    from vector_index.search import VectorSearcher

    searcher = VectorSearcher(ops.client_for(cfg), cfg.index, "item", "two_tower")
    assert searcher.search([0.25] * suite.DIM, k=3)[0]


_KILLED_PUBLISH = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from release_fixtures import gated, make_config
from pipeline import release

from gfm.config import IndexConfig
cfg = make_config(Path(sys.argv[1]), project=sys.argv[2])
cfg = cfg.model_copy(update={"index": IndexConfig.model_validate_json(sys.argv[3]), "secrets_file": Path(sys.argv[6])})

def crash(name):
    if name == "pointers":
        os.kill(os.getpid(), signal.SIGKILL)

release.CRASH_HOOK = crash
gated(cfg, sys.argv[5])
release.publish(cfg, sys.argv[5], why="crash test on the server")
"""


def test_release_kill_repair_and_rollback_on_the_server(cfg: Config) -> None:
    """kill -9 between the pointers and the record's flip, repair, then rollback: on the real server."""
    import signal
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    tests_pipeline = Path(__file__).resolve().parents[1] / "pipeline"
    sys.path.insert(0, str(tests_pipeline))
    from release_fixtures import REPO, all_on, expected_recommendations, export, make_config, publish, readers

    from gfm import releases
    from pipeline import release

    rel = make_config(cfg.data_dir)
    rel = rel.model_copy(update={"index": cfg.index, "secrets_file": cfg.secrets_file})
    v1, v2, v3 = "v20261201t000000_aaaaaa", "v20261202t000000_bbbbbb", "v20261203t000000_cccccc"
    for seed, version in enumerate((v1, v2, v3), start=1):
        export(rel, version, seed=seed)
    publish(rel, v1)
    publish(rel, v2)
    assert readers(rel) == all_on(rel, v2)

    child = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLED_PUBLISH,
            str(rel.data_dir),
            rel.features.project,
            rel.index.model_dump_json(exclude={"token"}),
            str(tests_pipeline),
            v3,
            str(rel.secrets_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert readers(rel)["item_two_tower"] == v3  # killed after the aliases moved, before the flip
    assert releases.read_record(rel.data_dir).live == v2

    assert release.gc(rel, why="after a killed publish")["failed"] == [v3]
    assert readers(rel) == all_on(rel, v2)

    release.rollback(rel, v1, why="rollback on the server")
    assert readers(rel) == all_on(rel, v1)
    with TestClient(create_app(rel)) as api:
        body = api.get("/v1/users/7/recommendations", params={"k": 5}).json()
    assert body["version"] == v1
    assert [r["id"] for r in body["results"]] == expected_recommendations(rel, v1, 7, 5)
