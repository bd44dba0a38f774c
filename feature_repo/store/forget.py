"""Removing forgotten users from Feast: the offline Parquet sources and the online store.

Offline: the mart sources (``dim_users``, ``user_features_daily``) are rewritten by
``warehouse.forget``; here, every published user-vector file of every version
(``<feast_dir>/published/<model>_user_<version>.parquet``), rewritten atomically, and its row
count in the catalog.

Online: Feast 0.67 has no public call that deletes one entity, so the rows are deleted where
Feast keeps them, with Feast's own key encoding (``serialize_entity_key``, the store's
``entity_key_serialization_version``):

- SQLite (``local``): every table of the project holds one row per (entity key, feature); the
  user's rows are deleted from every table, registered or left behind, with
  ``secure_delete`` on, so SQLite overwrites the freed bytes.
- Redis (``scale_out``): one hash per (entity key, project) holds every view of that user
  (``_redis_key``); the hash is deleted.

A later ``materialize`` reads the scrubbed sources, so it cannot write the user back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from feature_repo.store import catalog
from feature_repo.store.repo import get_store
from gfm.config import Config
from gfm.tombstones import scrub_parquet

__all__ = ["forget_online", "forget_published", "user_entity_keys"]

CHUNK = 500  # keys per statement: under SQLite's bound-parameter limit, short Redis commands


def forget_published(cfg: Config, user_ids: list[int]) -> dict[str, int]:
    """Rewrite every published user-vector file without the users; rows removed per file name."""
    out: dict[str, int] = {}
    for entry in catalog.read_catalog(cfg.feast_dir).published:
        path = Path(entry.path)
        if entry.entity != "user" or not path.exists():
            continue
        removed = scrub_parquet(path, "user_id", user_ids)
        out[path.name] = removed
        if removed:
            catalog.record(
                cfg.feast_dir, entry.model_copy(update={"rows": entry.rows - removed}), make_current=False
            )
    return out


def user_entity_keys(user_ids: list[int], serialization_version: int) -> list[bytes]:
    """The online-store keys of users, as Feast serialises them (join key ``user_id``, INT64)."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return [
        serialize_entity_key(
            EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=int(u))]),
            entity_key_serialization_version=serialization_version,
        )
        for u in user_ids
    ]


def forget_online(cfg: Config, user_ids: list[int]) -> dict[str, int]:
    """Delete the users from the online store.

    Returns:
        SQLite: rows removed per table (one row per user and feature). Redis: ``{"redis keys": n}``.

    """
    store = get_store(cfg)
    config = store.config
    if cfg.features.mode == "scale_out":
        return {"redis keys": _forget_redis(store, user_ids)}
    path = cfg.feast_dir / "online.db"
    if not path.exists():
        return {}
    keys = user_entity_keys(user_ids, config.entity_key_serialization_version)
    return _forget_sqlite(path, config.project, keys)


def _forget_sqlite(path: Path, project: str, keys: list[bytes]) -> dict[str, int]:
    out: dict[str, int] = {}
    con = sqlite3.connect(path, timeout=30.0)
    try:
        con.execute("pragma secure_delete = on")  # freed pages are zeroed, not left readable
        tables = [
            str(r[0])
            for r in con.execute("select name from sqlite_master where type = 'table' order by name")
            if str(r[0]).startswith(f"{project}_")
        ]
        with con:
            for table in tables:
                quoted = '"' + table.replace('"', '""') + '"'  # a name from the file, never user text
                columns = {str(r[1]) for r in con.execute(f"pragma table_info({quoted})")}
                if "entity_key" not in columns:
                    continue
                out[table] = 0
                for lo in range(0, len(keys), CHUNK):
                    chunk = keys[lo : lo + CHUNK]
                    marks = ",".join("?" * len(chunk))
                    cur = con.execute(f"delete from {quoted} where entity_key in ({marks})", chunk)
                    out[table] += int(cur.rowcount)
    finally:
        con.close()
    return out


def _forget_redis(store: Any, user_ids: list[int]) -> int:
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    config = store.config
    online = store._get_provider().online_store  # the provider's store: its client has the credentials
    client = online._get_client(config.online_store)
    keys = [
        _redis_key(
            config.project,
            EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=int(u))]),
            entity_key_serialization_version=config.entity_key_serialization_version,
        )
        for u in user_ids
    ]
    return sum(int(client.delete(*keys[lo : lo + CHUNK])) for lo in range(0, len(keys), CHUNK))
