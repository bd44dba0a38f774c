"""``gfm validate``: prints the expectation table and the Data Docs path; exit code 2 on failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fixtures.bad_raw import KINDS
from fixtures.marts import write_warehouse
from fixtures.raw_batch import write_raw_batch
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()


def _invoke(data_dir: Path, *args: str):
    result = runner.invoke(app, ["--data-dir", str(data_dir), "validate", *args])
    return result


def _has(result, text: str) -> bool:
    """Whether the output holds ``text``, ignoring the line breaks rich adds at 80 columns."""
    return "".join(text.split()) in "".join(result.output.split())


def test_raw_stage_passes_on_a_clean_batch(tmp_path: Path):
    write_raw_batch(tmp_path / "raw")
    # the fixture's window ended before the wall clock, so "not in the future" holds for real now

    result = _invoke(tmp_path, "--stage", "raw")

    assert result.exit_code == 0, result.output
    assert "raw gate: passed" in result.output
    assert "Data Docs:" in result.output and _has(result, "index.html")


def test_raw_stage_fails_with_exit_code_2_and_names_the_problem(tmp_path: Path):
    kind = next(k for k in KINDS if k.name == "unknown_item")
    kind.build(tmp_path / "raw")

    result = _invoke(tmp_path, "--stage", "raw")

    assert result.exit_code == 2
    assert "FAIL" in result.output and "raw gate failed" in result.output
    assert _has(result, "'item_id'") and _has(result, "5 of 400 rows")


def test_raw_stage_reports_a_file_level_error_without_traceback(tmp_path: Path):
    kind = next(k for k in KINDS if k.name == "truncated_parquet")
    kind.build(tmp_path / "raw")

    result = _invoke(tmp_path, "--stage", "raw")

    assert result.exit_code == 2
    assert _has(result, "interactions-0.parquet") and "Traceback" not in result.output


def test_marts_stage_reads_the_warehouse(tmp_path: Path):
    write_warehouse(tmp_path / "warehouse" / "gfm.duckdb")

    result = _invoke(tmp_path, "--stage", "marts")

    assert result.exit_code == 0, result.output
    assert "marts gate: passed" in result.output


def test_embeddings_stage_checks_the_newest_export(tmp_path: Path):
    dim = 128  # TwoTowerConfig.dim
    vectors = np.random.default_rng(0).normal(size=(5, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    path = tmp_path / "embeddings" / "two_tower" / "v20261130t010000_abcdef" / "items.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({
        "item_id": pa.array(range(5), pa.int64()),
        "version": ["v20261130t010000_abcdef"] * 5,
        "vector": pa.array(list(vectors), pa.list_(pa.float32())),
        "created_at": pa.array([0] * 5, pa.timestamp("us", tz="UTC")),
    }), path)  # fmt: skip

    result = _invoke(tmp_path, "--stage", "embeddings", "--model", "two_tower")

    assert result.exit_code == 0, result.output
    assert "embeddings gate: passed" in result.output


def test_embeddings_stage_without_exports_is_a_clear_error(tmp_path: Path):
    result = _invoke(tmp_path, "--stage", "embeddings", "--model", "hgnn")

    assert result.exit_code == 2
    assert _has(result, "no exported hgnn version")
