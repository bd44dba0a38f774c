"""The two Milvus roles gfm uses on a server with authentication (RBAC): writer and reader.

The pipeline (``gfm run``, ``gfm index``, publish, gc, rollback) connects as the writer user: it
creates, loads, fills, aliases and drops the versioned collections. The HTTP service
(``gfm serve``) connects as the reader user, whose role may describe, load, search and query, and
nothing else: it cannot insert, delete or drop. An administrator runs ``create_roles`` once with
a root client; gfm itself never holds root's password.

The privilege names are those of Milvus 2.3 (``grant_privilege``'s v1 API, which later servers
still accept).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = ["READER_PRIVILEGES", "READER_ROLE", "WRITER_PRIVILEGES", "WRITER_ROLE", "create_roles"]

WRITER_ROLE = "gfm_writer"
READER_ROLE = "gfm_reader"

# (object type, privilege), every object ("*") of the default database
READER_PRIVILEGES: tuple[tuple[str, str], ...] = (
    ("Global", "DescribeCollection"),
    ("Global", "ShowCollections"),
    ("Global", "DescribeAlias"),
    ("Global", "ListAliases"),
    ("Collection", "Load"),
    ("Collection", "GetLoadState"),
    ("Collection", "GetLoadingProgress"),
    ("Collection", "GetStatistics"),
    ("Collection", "IndexDetail"),
    ("Collection", "HasPartition"),
    ("Collection", "ShowPartitions"),
    ("Collection", "Search"),
    ("Collection", "Query"),
)
WRITER_PRIVILEGES: tuple[tuple[str, str], ...] = (
    *READER_PRIVILEGES,
    ("Global", "CreateCollection"),
    ("Global", "DropCollection"),
    ("Global", "CreateAlias"),
    ("Global", "DropAlias"),
    ("Global", "FlushAll"),
    ("Collection", "CreateIndex"),
    ("Collection", "DropIndex"),
    ("Collection", "Release"),
    ("Collection", "Insert"),
    ("Collection", "Delete"),
    ("Collection", "Upsert"),
    ("Collection", "Flush"),
    ("Collection", "GetFlushState"),
    ("Collection", "Compaction"),
    ("Collection", "CreatePartition"),
    ("Collection", "DropPartition"),
)


def _ensure_role(admin: MilvusClient, role: str, privileges: tuple[tuple[str, str], ...]) -> None:
    if role not in admin.list_roles():
        admin.create_role(role)
    for object_type, privilege in privileges:
        admin.grant_privilege(role, object_type, privilege, "*")


def _ensure_user(admin: MilvusClient, user: str, password: str, role: str) -> None:
    if user not in admin.list_users():
        admin.create_user(user, password)
    admin.grant_role(user, role)


def create_roles(admin: MilvusClient, writer: tuple[str, str], reader: tuple[str, str] | None = None) -> None:
    """Create the writer and reader roles and users (idempotent; existing users keep their password).

    Args:
        admin: A client connected as root (or a user allowed to manage users and roles).
        writer: ``(user, password)`` the pipeline connects as (``index.writer_user``).
        reader: ``(user, password)`` the service connects as (``index.reader_user``); None: none.

    """
    _ensure_role(admin, WRITER_ROLE, WRITER_PRIVILEGES)
    _ensure_user(admin, *writer, WRITER_ROLE)
    if reader is not None:
        _ensure_role(admin, READER_ROLE, READER_PRIVILEGES)
        _ensure_user(admin, *reader, READER_ROLE)
