"""Removing forgotten users from the Milvus user collections of every version.

Users are deleted by primary key (``client.delete(ids=...)``: no filter string holds their ids).
Each collection's completeness row (``vector_index.versions``) is then rewritten with the new
row count and the fingerprint of the scrubbed export, so the version stays complete: publish and
rollback accept it, and ``gfm index load`` sees it as loaded rather than as a partial load.
The collection is compacted (and waited for) after the delete: a server keeps deleted rows in
its segments and row statistics until then, which would read as an incomplete version.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from gfm.errors import StageError
from gfm.naming import export_path
from gfm.versioning import fingerprint_files
from vector_index.client import ensure_loaded
from vector_index.schema import parse_collection_name
from vector_index.versions import collection_info, count_rows, mark_complete

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = ["forget_users"]

CHUNK = 1_000  # ids per query/delete call


def forget_users(client: MilvusClient, embeddings_dir: Path, user_ids: list[int]) -> dict[str, int]:
    """Delete the users from every gfm user collection; rows removed per collection.

    Args:
        client: The process's Milvus client (``vector_index.ops.client_for``).
        embeddings_dir: Where the (already scrubbed) exports are, for the completeness fingerprint.
        user_ids: The users to remove.

    """
    out: dict[str, int] = {}
    for name in sorted(client.list_collections()):
        ref = parse_collection_name(name)
        if ref is None or ref.entity != "user":
            continue
        ensure_loaded(client, name)
        present: list[int] = []
        for lo in range(0, len(user_ids), CHUNK):
            rows = client.query(
                name, ids=user_ids[lo : lo + CHUNK], output_fields=["id"], consistency_level="Strong"
            )
            present += [int(r["id"]) for r in rows]
        out[name] = len(present)
        if not present:
            continue
        was_complete = collection_info(client, name).complete
        for lo in range(0, len(present), CHUNK):
            client.delete(name, ids=present[lo : lo + CHUNK])
        client.flush(name)
        _compact(client, name)
        if was_complete:
            export = export_path(embeddings_dir, ref.model, ref.version, "user")
            source = fingerprint_files([export]) if export.exists() else ""
            mark_complete(client, name, count_rows(client, name), [], source)
    return out


def _compact(client: MilvusClient, name: str, timeout: float = 300.0) -> None:
    """Apply the deletes to the stored segments (Milvus Lite reports its compaction done at once).

    A server keeps deleted rows in its segments, and in its row statistics, until a compaction:
    completeness (``vector_index.versions``) compares those statistics with the marker, and the
    vectors' bytes should not outlive the request. So the collection is compacted and waited for.

    Raises:
        StageError: If the compaction does not finish within ``timeout`` seconds.

    """
    job = client.compact(name)
    deadline = time.monotonic() + timeout
    while str(client.get_compaction_state(job)) != "Completed":
        if time.monotonic() > deadline:
            raise StageError(
                f"{name}: compaction {job} after deleting users did not finish in {timeout:.0f} s"
            )
        time.sleep(1.0)
