"""Removing forgotten users from the Milvus user collections of every version.

Users are deleted by primary key (``client.delete(ids=...)``: no filter string holds their ids).
Each collection's completeness row (``vector_index.versions``) is then rewritten with the new
row count and the fingerprint of the scrubbed export, so the version stays complete: publish and
rollback accept it, and ``gfm index load`` sees it as loaded rather than as a partial load.
Milvus drops the deleted vectors' bytes at its next compaction; searches and queries stop
returning them at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
        if was_complete:
            export = export_path(embeddings_dir, ref.model, ref.version, "user")
            source = fingerprint_files([export]) if export.exists() else ""
            mark_complete(client, name, count_rows(client, name), [], source)
    return out
