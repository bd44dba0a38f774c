"""``gfm forget`` on a Milvus standalone server: users deleted by primary key, versions still complete.

A server counts rows from its segment statistics; after the delete the collection must still read
as complete, so that the version can be published, rolled back to and reloaded as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.index_suite_module import load_index_suite
from fixtures.milvus_server import MilvusStandalone

from gfm.config import Config
from gfm.naming import export_path
from gfm.tombstones import scrub_parquet
from vector_index import ops
from vector_index.forget import forget_users
from vector_index.versions import collection_info

pytestmark = [pytest.mark.integration, pytest.mark.slow]

suite = load_index_suite()


def test_forget_on_the_server_leaves_the_version_complete_and_the_others_searchable(
    tmp_path: Path, milvus_server: MilvusStandalone
) -> None:
    cfg = Config.load(data_dir=tmp_path, environ={}, overrides=milvus_server.gfm_overrides())
    client = ops.client_for(cfg)
    for name in client.list_collections():  # test isolation only
        if name.startswith("user_two_tower_"):
            for alias in client.describe_collection(name).get("aliases") or []:
                client.drop_alias(alias)
            client.drop_collection(name)
    suite.write_export(cfg, "two_tower", suite.V1)
    ops.index_version(cfg, "two_tower", suite.V1)
    export = export_path(cfg.embeddings_dir, "two_tower", suite.V1, "user")
    gone, kept = 21, 28  # user ids are multiples of 7 (index_suite.write_export)

    assert scrub_parquet(export, "user_id", [gone]) == 1
    name = f"user_two_tower_{suite.V1}"
    assert forget_users(client, cfg.embeddings_dir, [gone, 10**15]) == {name: 1}
    rows = client.query(name, ids=[gone, kept], output_fields=["id"], consistency_level="Strong")
    assert [int(r["id"]) for r in rows] == [kept]
    info = collection_info(client, name)
    assert info.complete, info
    ops.check_complete(cfg, [("user", "two_tower")], suite.V1)  # publish / rollback accept it
    again = ops.index_version(cfg, "two_tower", suite.V1, entities=("user",))
    assert again[0].skipped  # the scrubbed export and the collection agree: nothing reloaded
    assert forget_users(client, cfg.embeddings_dir, [gone]) == {name: 0}
