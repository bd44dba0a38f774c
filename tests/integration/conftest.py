"""Fixtures shared by the integration tests: the session's Milvus server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from fixtures.milvus_server import MilvusStandalone


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusStandalone]:
    """A Milvus standalone server with authentication on and gfm's writer and reader users.

    Started once per session in a private network namespace; ``gfm_overrides()`` points a
    config at it (writer and reader users, their passwords in a 0600 secrets file).
    """
    if shutil.which("unshare") is None:
        pytest.fail("`unshare` is needed to run the Milvus server in a private network namespace")
    server = MilvusStandalone(
        tmp_path_factory.mktemp("milvus_server"), startup_timeout=150, authorization=True, quick_ticks=True
    )
    server.start()  # raises StageError with the log path if it can't start
    server.add_gfm_users()
    yield server
    from vector_index import close_clients

    close_clients()
    server.stop()
