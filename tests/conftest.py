"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# CLI output goes through rich, which wraps at the terminal width (80 without a terminal). A wide
# console keeps messages that hold a long tmp path on one line, whatever the user name in the path.
os.environ.setdefault("COLUMNS", "250")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The read-only datasets beside the repository; skips cleanly when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
