"""Feature-store fixtures: a config with a private Feast project under a temporary data dir."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gfm.config import Config

MakeConfig = Callable[..., Config]


def _make_config(data_dir: Path, **features: Any) -> Config:
    project = f"gfmtest_{uuid.uuid4().hex[:10]}"
    return Config(data_dir=data_dir, features={"project": project, **features})


@pytest.fixture(scope="session")
def make_config() -> MakeConfig:
    """Build a config whose Feast project name is unique to the test (tests never collide)."""
    return _make_config


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory, make_config: MakeConfig) -> Config:
    """Synthetic marts, applied and materialized once per test module."""
    from fixtures.synthetic_marts import write_synthetic_marts

    from feature_repo.store import apply_definitions, materialize

    cfg = make_config(tmp_path_factory.mktemp("feast"))
    write_synthetic_marts(cfg.marts_dir)
    apply_definitions(cfg)
    materialize(cfg)
    return cfg
