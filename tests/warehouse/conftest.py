"""One warehouse built with real dbt (and the real gates) shared by the tests of this folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from warehouse_fixture import write_raw_batch

from gfm.config import Config

#: Small enough that the degree cap and the per-user item limit both bind on the fixture.
GRAPH = {"min_ms_played": 30_000, "min_support": 2, "degree_cap": 5, "max_items_per_user": 15}


@dataclass
class Built:
    cfg: Config
    result: object  # warehouse.TransformResult

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.cfg.warehouse_path), read_only=True) as con:
            con.execute("set TimeZone = 'UTC'")
            return con.execute(sql).df()

    def raw(self, table: str) -> pd.DataFrame:
        return pd.read_parquet(self.cfg.raw_dir / table)


def make_config(data_dir: Path) -> Config:
    return Config(data_dir=data_dir, graph=GRAPH)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Generate a tiny raw batch and run the whole ``run_transform`` on it once."""
    from warehouse import run_transform

    cfg = make_config(tmp_path_factory.mktemp("warehouse") / "data")
    write_raw_batch(cfg.raw_dir)
    result = run_transform(cfg, show_progress=False)
    return Built(cfg=cfg, result=result)
