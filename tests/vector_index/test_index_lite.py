"""The index suite (load, publish, search, filters, kill -9 mid-load) on Milvus Lite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from index_suite import IndexSuite

from gfm.config import Config
from vector_index import close_clients


@pytest.fixture
def cfg(tmp_path: Path) -> Iterator[Config]:
    config = Config.load(data_dir=tmp_path, environ={})
    yield config
    close_clients()  # releases the Lite file lock


class TestLite(IndexSuite):
    """Every behaviour of the suite, on a Milvus Lite file per test."""
