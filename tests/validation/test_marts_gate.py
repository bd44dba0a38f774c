"""The marts gate on a tiny hand-built warehouse: valid marts pass, each broken invariant fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.marts import MART_CORRUPTIONS, MartCorruption, corrupt_warehouse, write_warehouse

from gfm.config import Config
from gfm.errors import StageError
from validation.gates import run_marts_gate
from validation.results import GateFailed


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return Config(data_dir=tmp_path / "data")


def test_valid_marts_pass(cfg: Config):
    db = write_warehouse(cfg.data_dir / "warehouse" / "build.duckdb")

    result = run_marts_gate(db, cfg)

    assert result.success, result.summary()
    assert result.row_counts["fct_item_edges"] == 3
    assert (cfg.reports_dir / "validation" / "marts-latest.json").is_file()


@pytest.mark.parametrize("corruption", MART_CORRUPTIONS, ids=lambda c: c.name)
def test_broken_invariant_fails_the_marts_gate(cfg: Config, corruption: MartCorruption):
    db = write_warehouse(cfg.data_dir / "warehouse" / "build.duckdb")
    corrupt_warehouse(db, corruption)

    with pytest.raises(GateFailed) as info:
        run_marts_gate(db, cfg)

    matches = [
        f for f in info.value.result.failures
        if f.table == corruption.table and f.column == corruption.column and corruption.phrase in f.description
    ]  # fmt: skip
    assert matches, info.value.summary
    assert matches[0].unexpected_count == corruption.count
    assert corruption.table in str(info.value)


def test_min_support_comes_from_the_graph_config(cfg: Config):
    db = write_warehouse(cfg.data_dir / "warehouse" / "build.duckdb")
    strict = cfg.model_copy(update={"graph": cfg.graph.model_copy(update={"min_support": 3})})

    with pytest.raises(GateFailed) as info:
        run_marts_gate(db, strict)

    (failure,) = info.value.result.failures
    assert failure.column == "n_co_users" and failure.unexpected_count == 2


def test_missing_mart_is_a_stage_error(cfg: Config):
    db = write_warehouse(cfg.data_dir / "warehouse" / "build.duckdb")
    corrupt_warehouse(db, MartCorruption("drop", "drop table fct_item_edges", "", None, "", None))

    with pytest.raises(StageError, match="fct_item_edges"):
        run_marts_gate(db, cfg)


@pytest.mark.parametrize(
    ("sql", "mart", "phrase"),
    [
        ("delete from fct_item_edges", "fct_item_edges", "at least one edge"),
        ("delete from fct_eval_interactions", "fct_eval_interactions", "at least one interaction"),
    ],
    ids=["no_edges", "no_eval_rows"],
)
def test_an_empty_graph_or_evaluation_window_fails_the_marts_gate(
    cfg: Config, sql: str, mart: str, phrase: str
):
    db = write_warehouse(cfg.data_dir / "warehouse" / "build.duckdb")
    corrupt_warehouse(db, MartCorruption("empty", sql, mart, None, phrase, None))

    with pytest.raises(GateFailed) as info:
        run_marts_gate(db, cfg)

    (failure,) = info.value.result.failures
    assert (failure.table, failure.examples) == (mart, ["0"])
    assert phrase in failure.description and f"{mart} (" in str(info.value)
