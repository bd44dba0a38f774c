"""Publish, rollback, dead runs and gc move every store together (Feast, Milvus Lite, the service).

Real components: Feast (SQLite online store, file registry) and Milvus Lite in a temporary data
dir; the service through FastAPI's TestClient with its production user source (Feast).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from release_fixtures import all_on, expected_recommendations, export, make_config, publish, readers
from typer.testing import CliRunner

from gfm import releases
from gfm.config import Config
from gfm.errors import NotFoundError, StageError
from pipeline import release
from pipeline.audit import os_user, read_audit

V1 = "v20261201t000000_aaaaaa"
V2 = "v20261202t000000_bbbbbb"
pytestmark = pytest.mark.slow  # one module fixture publishes twice through Feast and Milvus (~25 s)
USER = 7  # index_suite.write_export's user ids are multiples of 7
_START_AND_EXIT = (
    "import sys; from pathlib import Path; from gfm import releases; "
    "releases.start_run(Path(sys.argv[1]), sys.argv[2])"
)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    config = make_config(tmp_path_factory.mktemp("release"))
    export(config, V1, seed=1)
    export(config, V2, seed=2)
    publish(config, V1)
    publish(config, V2)
    yield config
    from vector_index import close_clients

    close_clients()


def _recommend(cfg: Config) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from vector_index.service import create_app

    with TestClient(create_app(cfg)) as api:
        response = api.get(f"/v1/users/{USER}/recommendations", params={"k": 5})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_publish_moves_every_store_and_retires_the_previous_version(cfg: Config) -> None:
    assert readers(cfg) == all_on(cfg, V2)
    record = releases.read_record(cfg.data_dir)
    assert record.get(V1).status == "retired" and record.get(V2).status == "published"
    assert record.pending is None


def test_rollback_moves_feast_and_milvus_together_and_the_service_answers_from_one_version(
    cfg: Config,
) -> None:
    body = _recommend(cfg)
    assert body["version"] == V2
    assert [r["id"] for r in body["results"]] == expected_recommendations(cfg, V2, USER, 5)

    assert release.rollback(cfg, V1, why="bad numbers in V2") == V2
    assert readers(cfg) == all_on(cfg, V1)
    record = releases.read_record(cfg.data_dir)
    assert record.get(V2).status == "rolled_back" and record.get(V1).status == "published"
    body = _recommend(cfg)
    # the user vector and the item collection are both V1's: the ranking is V1's exact one
    assert body["version"] == V1
    assert [r["id"] for r in body["results"]] == expected_recommendations(cfg, V1, USER, 5)
    assert expected_recommendations(cfg, V1, USER, 5) != expected_recommendations(cfg, V2, USER, 5)


def test_the_service_pairs_the_user_vector_with_the_alias_version_whatever_feast_says(cfg: Config) -> None:
    from feature_repo.store.catalog import read_catalog, set_current

    live = releases.read_record(cfg.data_dir).live
    assert live is not None
    other = V2 if live == V1 else V1
    set_current(cfg.feast_dir, {"two_tower": other})  # Feast's pointer alone moved (a crash window)
    try:
        body = _recommend(cfg)
        assert body["version"] == live
        assert [r["id"] for r in body["results"]] == expected_recommendations(cfg, live, USER, 5)
    finally:
        set_current(cfg.feast_dir, {"two_tower": live})
    assert read_catalog(cfg.feast_dir).current["two_tower"] == live


def test_rollback_refuses_and_moves_nothing_when_a_store_lacks_the_version(cfg: Config) -> None:
    from vector_index.ops import client_for

    before = readers(cfg)
    live = before["record"]
    with pytest.raises(StageError, match="already live"):
        release.rollback(cfg, live, why="")
    with pytest.raises(NotFoundError, match="no release"):
        release.rollback(cfg, "v20260101t000000_cccccc", why="")
    other = V2 if live == V1 else V1
    client = client_for(cfg)
    name = f"user_two_tower_{other}"
    client.rename_collection(name, f"{name}_away")  # the user collection is gone for now
    try:
        with pytest.raises(NotFoundError, match=name):
            release.rollback(cfg, other, why="")
        assert readers(cfg) == before
    finally:
        client.rename_collection(f"{name}_away", name)


def test_a_dead_run_is_failed_and_gc_removes_its_leftovers_only(cfg: Config) -> None:
    dead = "v20261203t000000_dddddd"
    child = subprocess.run(
        [sys.executable, "-c", _START_AND_EXIT, str(cfg.data_dir), dead],
        check=True,
    )
    assert child.returncode == 0
    leftover = cfg.embeddings_dir / "two_tower" / dead
    leftover.mkdir(parents=True)
    (leftover / "items.parquet").write_bytes(b"partial")
    kept = [cfg.embeddings_dir / "two_tower" / v for v in (V1, V2)]

    result = release.gc(cfg, why="test gc")
    assert result["failed"] == [dead]
    assert result["removed"] == {dead: [str(leftover)]}
    assert not leftover.exists() and all(p.exists() for p in kept)
    record = releases.read_record(cfg.data_dir)
    assert record.get(dead).status == "failed" and "is gone" in record.get(dead).reason
    assert release.gc(cfg, why="again") == {"failed": [], "removed": {}}


def test_versions_and_audit_show_the_record(cfg: Config) -> None:
    from pipeline.cli import app

    runner = CliRunner()
    base = ["--data-dir", str(cfg.data_dir)]
    listed = runner.invoke(app, [*base, "versions"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "failed" in listed.output and "(live)" in listed.output

    audit = runner.invoke(app, [*base, "audit", "--json"])
    assert audit.exit_code == 0, audit.output
    entries = [json.loads(line) for line in audit.output.splitlines()]
    assert entries == read_audit(cfg.data_dir)
    actions = [(e["action"], e["what"].get("version")) for e in entries]
    assert actions[:3] == [("publish", V1), ("publish", V2), ("rollback", V1)]
    rollback = entries[2]
    assert rollback["actor"] == os_user() and rollback["why"] == "bad numbers in V2"
    assert rollback["what"]["previous"] == V2
    assert any(e["action"] == "gc" and e["why"] == "test gc" for e in entries)
