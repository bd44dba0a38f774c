"""Fixtures of the ingest tests: one small generated batch per session, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.small_raw import make_small_raw

from gfm.config import ValidationConfig
from ingest.raw_io import RawTables, load_raw


@pytest.fixture(scope="session")
def small_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic raw batch (300 users). Read-only: copy it before breaking it."""
    return make_small_raw(tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="session")
def small_tables(small_raw: Path) -> RawTables:
    return load_raw(small_raw, ValidationConfig())
