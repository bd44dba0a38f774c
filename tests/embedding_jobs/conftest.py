"""Fixtures of the embedding-job tests: tiny marts with real MiniLM text features."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hgnn_fixtures import tiny_config, write_marts


@pytest.fixture(scope="session")
def _tiny_with_text(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Marts plus real MiniLM text features, built once per session (the model loads once)."""
    from embedding_jobs.text_features import build_text_features

    data_dir = tmp_path_factory.mktemp("tiny") / "data"
    cfg = tiny_config(data_dir)
    write_marts(cfg.marts_dir)
    build_text_features(cfg)
    return data_dir


@pytest.fixture
def tiny_data(_tiny_with_text: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny data directory (marts + cached text features)."""
    target = tmp_path / "data"
    shutil.copytree(_tiny_with_text, target)
    return target
