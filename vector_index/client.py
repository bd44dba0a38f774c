"""The one Milvus client factory: one ``MilvusClient`` per (URI, token) per process.

A Milvus Lite file can be opened by one process only (a second gets ``DataDirLockedError``), so
every module of a process shares the client returned here, and the HTTP service is the process
that owns the file while it runs. A server URI (``http://host:19530``) works with the same code.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from gfm.config import Config
from gfm.errors import StageError
from gfm.secrets import require_secret

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = ["close_clients", "ensure_loaded", "get_client", "is_lite_uri", "role_client", "role_token"]

Role = Literal["writer", "reader"]

_CLIENTS: dict[tuple[str, str], MilvusClient] = {}
_LOCK = threading.Lock()

# Messages a Milvus standalone server answers with right after a restart; one retry works.
_RETRYABLE_LOAD = ("node not match", "unrecoverable error")


def is_lite_uri(uri: str) -> bool:
    """Whether ``uri`` names a Milvus Lite file rather than a server."""
    return not uri.startswith(("http://", "https://", "tcp://", "unix:", "grpc://"))


def get_client(uri: str, token: str = "", timeout: float = 30.0) -> MilvusClient:
    """Return the process-wide client for ``uri`` (created on first use).

    Args:
        uri: A Milvus Lite file path (``.db``) or a server URI.
        token: Server token (``user:password`` or an API key); ignored by Milvus Lite.
        timeout: Default RPC timeout in seconds.

    Returns:
        The shared client.

    Raises:
        StageError: If the Lite file is held by another process or the server can't be reached.

    """
    key = (uri, token)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _connect(uri, token, timeout)
            _CLIENTS[key] = client
        return client


def role_token(cfg: Config, role: Role) -> str:
    """The token ``role`` connects with: ``user:password`` of its configured user, else ``index.token``.

    The pipeline (index, publish, gc, rollback) is the ``writer``; the HTTP service is the
    ``reader``, a read-only role on a server with authentication (vector_index/rbac.py). The
    password is the secret named by ``index.<role>_password_env`` (``gfm.secrets``). Milvus Lite
    has no authentication: the token is empty and no secret is read.

    Raises:
        SecretsError: If the role's user is configured but its password is set nowhere.

    """
    if is_lite_uri(cfg.milvus_uri):
        return ""
    user = cfg.index.writer_user if role == "writer" else cfg.index.reader_user
    if not user:
        return cfg.index.token.get_secret_value()
    env = cfg.index.writer_password_env if role == "writer" else cfg.index.reader_password_env
    return f"{user}:{require_secret(env, f'the Milvus {role} user {user!r}', cfg.secrets_file)}"


def role_client(cfg: Config, role: Role) -> MilvusClient:
    """The process's client for the configured Milvus, connected as ``role`` (see ``role_token``)."""
    return get_client(cfg.milvus_uri, role_token(cfg, role))


def _connect(uri: str, token: str, timeout: float) -> MilvusClient:
    from pymilvus import MilvusClient

    if is_lite_uri(uri):
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=token, timeout=timeout)
    except Exception as exc:  # pymilvus and milvus_lite raise several unrelated types here
        hint = (
            "the Milvus Lite file is owned by another process (is `gfm serve` running?); use the "
            "HTTP service, stop it, or point index.uri at a Milvus server"
            if is_lite_uri(uri)
            else "is the Milvus server running and reachable?"
        )
        raise StageError(f"cannot open Milvus at {uri!r}: {exc}; {hint}") from exc


def close_clients() -> None:
    """Close every client of this process and release the Milvus Lite files it holds."""
    with _LOCK:
        for (uri, _), client in _CLIENTS.items():
            client.close()
            if is_lite_uri(uri):
                # Milvus Lite 3 serves the file from an in-process gRPC server (on a loopback
                # port) that outlives the client; stopping it releases the file lock.
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(uri)
        _CLIENTS.clear()


def ensure_loaded(client: MilvusClient, collection: str, retries: int = 1) -> None:
    """Load ``collection`` into memory unless it already is.

    A reopened Lite file or a restarted server holds collections released (search fails with
    ``state 'released'``). A server's first load after a restart can fail once with
    ``node not match``; that is retried after a short pause.

    Args:
        client: The Milvus client.
        collection: Collection name (not an alias).
        retries: How many times a retryable load failure is retried.

    """
    from pymilvus import MilvusException

    state = str(client.get_load_state(collection).get("state", ""))
    if state.endswith("Loaded"):
        return
    for attempt in range(retries + 1):
        try:
            client.load_collection(collection)
            return
        except MilvusException as exc:
            if attempt >= retries or not any(m in str(exc) for m in _RETRYABLE_LOAD):
                raise
            time.sleep(1.0)
