"""The data-layer engine by configuration: DuckDB by default, Spark by profile, Spark's needs named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gfm.config import Config
from gfm.errors import StageError
from warehouse.spark_marts import require_spark, spark_missing


def test_duckdb_is_the_default_engine() -> None:
    cfg = Config.load(environ={})
    assert (cfg.profile, cfg.warehouse.engine, cfg.features.offline_store) == ("embedded", "duckdb", "duckdb")
    assert cfg.features.mode == "local"


def test_scale_out_profile_puts_dbt_and_the_offline_store_on_spark() -> None:
    cfg = Config.load(environ={"GFM__PROFILE": "scale_out"})
    assert (cfg.warehouse.engine, cfg.features.offline_store, cfg.features.mode) == (
        "spark",
        "spark",
        "scale_out",
    )


def test_a_value_set_explicitly_wins_over_the_profile() -> None:
    cfg = Config.load(environ={"GFM__PROFILE": "scale_out", "GFM__WAREHOUSE__ENGINE": "duckdb"})
    assert (cfg.warehouse.engine, cfg.features.offline_store) == ("duckdb", "spark")


def test_missing_java_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java on PATH
    assert any("Java 17+" in line and "openjdk-17" in line for line in spark_missing())
    with pytest.raises(StageError, match=r"warehouse.engine is spark, but this machine lacks: .*Java 17"):
        require_spark()
