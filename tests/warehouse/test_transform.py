"""run_transform end to end: promotion, provenance, failure isolation, dbt docs and the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import make_config
from typer.testing import CliRunner

from gfm.errors import GateFailedError, StageError
from pipeline.cli import app
from warehouse import MARTS, run_transform


def copy_of(built, tmp_path: Path):
    """A private copy of the built data directory (previous good warehouse and marts included)."""
    data = tmp_path / "data"
    shutil.copytree(built.cfg.data_dir, data)
    return make_config(data)


def fingerprint(cfg) -> dict[str, str]:
    files = [
        cfg.warehouse_path,
        cfg.warehouse_path.parent / "transform.json",
        *sorted(cfg.marts_dir.iterdir()),
    ]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_every_mart_is_promoted_to_duckdb_and_parquet_with_matching_counts(built):
    assert set(built.result.row_counts) == set(MARTS)
    assert sorted(p.stem for p in built.cfg.marts_dir.glob("*.parquet")) == sorted(MARTS)
    for mart, rows in built.result.row_counts.items():
        assert rows > 0, mart
        assert pq.read_metadata(built.cfg.marts_dir / f"{mart}.parquet").num_rows == rows
        assert built.query(f"select count(*) as n from {mart}").n[0] == rows
    assert not (built.cfg.warehouse_path.parent / "build.duckdb").exists()


def test_parquet_marts_keep_int64_ids_and_utc_timestamps(built):
    frame = pd.read_parquet(built.cfg.marts_dir / "user_features_daily.parquet")
    assert frame.user_id.dtype == "int64"
    assert str(frame.feature_at.dt.tz) == "UTC"
    edges = pd.read_parquet(built.cfg.marts_dir / "fct_item_edges.parquet")
    assert edges.src_item_id.dtype == "int64" and edges.n_co_users.dtype == "int64"


def test_provenance_records_vars_timings_and_dbt_run_results(built):
    record = json.loads((built.cfg.warehouse_path.parent / "transform.json").read_text())
    assert record["row_counts"] == built.result.row_counts
    assert record["dbt_vars"]["degree_cap"] == 5
    assert record["dbt_vars"]["train_end"] == "2026-10-17T00:00:00+00:00"
    run_results = json.loads(built.result.run_results_path.read_text())
    statuses = {r["status"] for r in run_results["results"]}
    assert statuses <= {"success", "pass"}
    assert built.result.n_dbt_tests >= 40


def test_failing_dbt_test_stops_the_run_and_leaves_the_previous_warehouse_untouched(
    built, tmp_path, monkeypatch
):
    import validation.gates

    cfg = copy_of(built, tmp_path)
    before = fingerprint(cfg)
    # a duplicated event id; with the raw gate out of the way, dbt's own unique test must stop it
    events = pq.read_table(cfg.raw_dir / "interactions" / "part-0.parquet")
    pq.write_table(events.slice(0, 1), cfg.raw_dir / "interactions" / "part-1.parquet")
    monkeypatch.setattr(validation.gates, "run_raw_gate", lambda *args, **kwargs: None)

    with pytest.raises(StageError) as failure:
        run_transform(cfg, show_progress=False)

    assert "unique_stg_landing__interactions_event_id" in str(failure.value)
    assert "1 failing rows" in str(failure.value)
    assert fingerprint(cfg) == before


def test_failing_marts_gate_leaves_the_previous_warehouse_and_marts_untouched(built, tmp_path, monkeypatch):
    import validation.gates

    cfg = copy_of(built, tmp_path)
    before = fingerprint(cfg)
    seen: list[Path] = []

    def failing_gate(db_path: Path, cfg) -> None:  # a double; the real gate runs in `built`
        seen.append(db_path)
        raise GateFailedError("marts", "- fct_item_edges.src_item_id: no self-loops: 1 row")

    monkeypatch.setattr(validation.gates, "run_raw_gate", lambda *args, **kwargs: None)
    monkeypatch.setattr(validation.gates, "run_marts_gate", failing_gate)

    with pytest.raises(GateFailedError):
        run_transform(cfg, show_progress=False)

    assert seen == [cfg.warehouse_path.parent / "build.duckdb"]
    assert fingerprint(cfg) == before
    assert not list(cfg.marts_dir.parent.glob(".marts.*"))


def test_dbt_docs_generate_works_on_the_promoted_warehouse(built):
    result = CliRunner().invoke(app, ["--data-dir", str(built.cfg.data_dir), "docs"])
    assert result.exit_code == 0, result.output
    docs = built.cfg.reports_dir / "dbt_docs"
    catalog = json.loads((docs / "catalog.json").read_text())
    assert {f"model.gfm.{mart}" for mart in MARTS} <= set(catalog["nodes"])
    assert (docs / "index.html").stat().st_size > 0


def test_docs_without_a_warehouse_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "docs"])
    assert result.exit_code == 2
    assert "gfm transform" in result.output


@pytest.mark.slow
def test_transform_command_reruns_idempotently_and_prints_counts(built, tmp_path):
    cfg = copy_of(built, tmp_path)
    env = {"GFM__GRAPH__DEGREE_CAP": "5", "GFM__GRAPH__MAX_ITEMS_PER_USER": "15"}
    result = CliRunner().invoke(app, ["--data-dir", str(cfg.data_dir), "transform"], env=env)
    assert result.exit_code == 0, result.output
    assert "fct_item_edges" in result.output and str(cfg.warehouse_path) in result.output.replace("\n", "")
    record = json.loads((cfg.warehouse_path.parent / "transform.json").read_text())
    assert record["row_counts"] == built.result.row_counts
