"""``gfm forget`` after a real (tiny) ``gfm run``: the user is gone from every store, and stays gone.

One run publishes a version; ``gfm forget`` removes one user; every store is then checked for
that user (raw files, landing, the DuckDB warehouse, the marts, Feast offline and online, the
exports, Milvus, the HTTP service) and for another user, who must be untouched. A rerun on a
freshly generated raw batch that holds the user again must leave them out everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gfm.config import Config
from gfm.naming import export_path
from ingest.raw_io import table_files
from pipeline.cli import app
from pipeline.run import run_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TINY = {
    "generate": {"users": 200, "podcasts": 100, "audiobooks": 50, "topics": 4},
    "hgnn": {"epochs": 1, "device": "cpu"},
    "two_tower": {"epochs": 1, "batch_size": 256, "device": "cpu"},
    "evaluate": {"train_companions": False, "peers": False},
    "publish": {"hr_tolerance": 1.0},  # the rerun must publish whatever its HR@10
}


def _holders(cfg: Config, user: int) -> dict[str, int]:
    """Rows naming ``user`` in every Parquet file and DuckDB table under the data dir."""
    out: dict[str, int] = {}
    for path in sorted(cfg.data_dir.rglob("*.parquet")):
        if "milvus" in path.parts or ".gfm" in path.name:
            continue  # Milvus' own files are checked through Milvus
        if "user_id" in pq.read_schema(path).names:
            n = int((pq.read_table(path, columns=["user_id"]).column(0).to_numpy() == user).sum())
            if n:
                out[str(path.relative_to(cfg.data_dir))] = n
    with duckdb.connect(str(cfg.warehouse_path), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.columns where column_name = 'user_id'"
        ).fetchall()
        for (table,) in tables:
            row = con.execute(f'select count(*) from "{table}" where user_id = ?', [user]).fetchone()
            if row and row[0]:
                out[f"duckdb:{table}"] = int(row[0])
    return out


def _raw_rows(cfg: Config, user: int) -> int:
    total = 0
    for table in ("interactions", "users"):
        for path in table_files(cfg.raw_dir / table):
            total += int((pq.read_table(path, columns=["user_id"]).column(0).to_numpy() == user).sum())
    return total


def _online(cfg: Config, users: list[int], version: str) -> dict[str, list]:
    from feature_repo.store.repo import get_store

    features = ["user_profile:country", f"two_tower_user_embeddings_{version}:vector"]
    store = get_store(cfg)
    return store.get_online_features(features=features, entity_rows=[{"user_id": u} for u in users]).to_dict()


def _offline(cfg: Config, users: list[int], version: str) -> pd.DataFrame:
    from feature_repo.store.repo import get_store

    entity = pd.DataFrame(
        {"user_id": users, "event_timestamp": [datetime(2026, 10, 30, tzinfo=UTC)] * len(users)}
    )
    features = ["user_profile:country", f"two_tower_user_embeddings_{version}:vector"]
    return get_store(cfg).get_historical_features(entity_df=entity, features=features).to_df()


def _milvus_ids(cfg: Config, users: list[int]) -> dict[str, list[int]]:
    from vector_index.client import ensure_loaded
    from vector_index.ops import client_for

    client = client_for(cfg)
    out = {}
    for name in client.list_collections():
        if name.startswith("user_"):
            ensure_loaded(client, name)
            rows = client.query(name, ids=users, output_fields=["id"], consistency_level="Strong")
            out[name] = sorted(int(r["id"]) for r in rows)
    return out


@pytest.fixture(scope="module")
def forgotten(tmp_path_factory):
    cfg = Config.load(data_dir=tmp_path_factory.mktemp("forget") / "data", overrides=TINY, environ={})
    first = run_pipeline(cfg, source="synthetic")
    users = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet", columns=["user_id"])["user_id"]
    gone, kept = (int(u) for u in users.value_counts().index[:2])  # two users every store holds
    before = {"kept": _holders(cfg, kept), "gone": _holders(cfg, gone)}
    result = CliRunner().invoke(
        app, ["--data-dir", str(cfg.data_dir), "forget", "--user", str(gone), "--reason", "request 1"]
    )
    yield cfg, first.version, gone, kept, before, result
    from vector_index.client import close_clients

    close_clients()


def test_forget_prints_what_it_removed_where(forgotten):
    _, _, _, _, before, result = forgotten
    assert result.exit_code == 0, result.output
    for store in (
        "raw logs",
        "warehouse (DuckDB)",
        "marts",
        "exported user vectors",
        "Feast online",
        "Milvus",
    ):
        assert store in result.output
    assert len(before["gone"]) >= 8  # the user was in raw, landing, DuckDB, marts, exports, Feast


def test_no_store_holds_the_forgotten_user_and_the_other_user_is_untouched(forgotten):
    cfg, version, gone, kept, before, _ = forgotten
    assert _holders(cfg, gone) == {}
    assert _raw_rows(cfg, gone) == 0
    assert _holders(cfg, kept) == before["kept"]

    online = _online(cfg, [gone, kept], version)
    assert online["country"][0] is None and online["vector"][0] is None
    assert online["country"][1] is not None and online["vector"][1] is not None
    offline = _offline(cfg, [gone, kept], version).set_index("user_id")
    assert offline.loc[gone, "vector"] is None or pd.isna(offline.loc[gone, "country"])
    assert offline.loc[kept, "country"] is not None and len(offline.loc[kept, "vector"]) == cfg.two_tower.dim

    assert _milvus_ids(cfg, [gone, kept]) == {f"user_two_tower_{version}": [kept]}
    exported = pq.read_table(export_path(cfg.embeddings_dir, "two_tower", version, "user")).column("user_id")
    assert gone not in exported.to_pylist() and kept in exported.to_pylist()

    from feature_repo.client import EmbeddingClient

    assert EmbeddingClient(cfg).get_user_embedding(gone) is None
    assert EmbeddingClient(cfg).get_user_embedding(kept) is not None


def test_the_service_answers_404_for_the_forgotten_user_only(forgotten):
    cfg, _, gone, kept, _, _ = forgotten
    from vector_index.service import create_app

    with TestClient(create_app(cfg)) as client:
        assert client.get(f"/v1/users/{gone}/recommendations").status_code == 404
        assert client.get(f"/v1/users/{kept}/recommendations").status_code == 200
        # read from the HGNN vectors of their consumed items too: nothing of theirs is left to read
        hgnn = {"model": "hgnn"}
        assert client.get(f"/v1/users/{gone}/recommendations", params=hgnn).status_code == 404
        assert client.get(f"/v1/users/{kept}/recommendations", params=hgnn).status_code == 200


def test_the_audit_log_records_who_when_what_and_why(forgotten):
    cfg, _, gone, _, _, _ = forgotten
    from pipeline.audit import read_audit

    entry = [e for e in read_audit(cfg.data_dir) if e["action"] == "forget"][-1]
    assert entry["what"]["users"] == [gone] and entry["why"] == "request 1" and entry["actor"] and entry["at"]
    assert entry["what"]["removed"]["raw logs"]["interactions"] > 0


def test_forgetting_again_removes_nothing_more(forgotten):
    cfg, _, gone, _, _, _ = forgotten
    result = CliRunner().invoke(
        app, ["--data-dir", str(cfg.data_dir), "forget", "--user", str(gone), "--json"]
    )
    assert result.exit_code == 0, result.output
    import json

    removed = json.loads(result.output)["removed"]
    assert all(sum(rows.values()) == 0 for rows in removed.values())


def test_a_rerun_on_a_new_batch_holding_the_user_keeps_them_gone(forgotten):
    cfg, first, gone, kept, _, _ = forgotten
    second = run_pipeline(cfg, source="synthetic")  # regenerates raw: the user is in the batch again
    assert second.status == "published" and second.version != first
    assert _holders(cfg, gone) == {}
    assert _milvus_ids(cfg, [gone, kept]) == {
        f"user_two_tower_{first}": [kept],
        f"user_two_tower_{second.version}": [kept],
    }
    online = _online(cfg, [gone, kept], second.version)
    assert online["vector"][0] is None and online["vector"][1] is not None
    from vector_index.service import create_app

    with TestClient(create_app(cfg)) as client:
        assert client.get(f"/v1/users/{gone}/recommendations").status_code == 404
        assert client.get(f"/v1/users/{kept}/recommendations").status_code == 200
