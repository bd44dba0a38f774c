"""The embeddings gate on exported vector files (contract section 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gfm.config import Config
from validation.gates import run_embeddings_gate
from validation.results import GateFailed

DIM = 8
IDS = np.arange(100, 140, dtype=np.int64)


def _vectors(n: int = len(IDS), seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _write(path: Path, ids: np.ndarray, vectors: list | np.ndarray, version: str = "v1") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({
        "item_id": pa.array(ids, pa.int64()),
        "version": pa.array([version] * len(ids)),
        "vector": pa.array([list(map(float, v)) for v in vectors], pa.list_(pa.float32())),
        "created_at": pa.array([datetime(2026, 11, 1, tzinfo=UTC)] * len(ids), pa.timestamp("us", tz="UTC")),
    })  # fmt: skip
    pq.write_table(table, path)
    return path


def _gate(path: Path, cfg: Config, *, unit_norm: bool = True, expected=IDS):
    return run_embeddings_gate(
        path, entity="item", expected_ids=expected, dim=DIM, unit_norm=unit_norm, cfg=cfg
    )


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return Config(data_dir=tmp_path / "data")


def test_valid_export_passes(cfg: Config):
    path = _write(cfg.embeddings_dir / "hgnn" / "v1" / "items.parquet", IDS, _vectors())

    result = _gate(path, cfg)

    assert result.success, result.summary()
    assert result.row_counts == {"items": 40, "items_expected": 40}
    assert (cfg.reports_dir / "validation" / "embeddings-hgnn-items-latest.json").is_file()


def _failures(path: Path, cfg: Config, **kwargs) -> dict[str, object]:
    with pytest.raises(GateFailed) as info:
        _gate(path, cfg, **kwargs)
    return {f.description: f for f in info.value.result.failures}


def test_nan_inf_wrong_dimension_and_norm_are_reported_by_id(cfg: Config):
    vectors = [list(v) for v in _vectors()]
    vectors[3][0] = float("nan")
    vectors[5][2] = float("inf")
    vectors[7] = vectors[7][:-1]  # 7 dimensions
    vectors[9] = [2 * x for x in vectors[9]]  # norm 2
    path = _write(cfg.embeddings_dir / "x.parquet", IDS, vectors)

    failed = _failures(path, cfg)

    nonfinite = failed["vector has no NaN or Inf (ids shown)"]
    assert nonfinite.unexpected_count == 2 and nonfinite.examples == ["103", "105"]
    assert failed[f"vector has {DIM} dimensions"].examples == ["7"]
    norm = failed["vector has unit L2 norm (+/- 0.001)"]
    assert norm.unexpected_count == 2  # the 2x vector and the 7-dimension one
    assert set(failed) == {"vector has no NaN or Inf (ids shown)", f"vector has {DIM} dimensions",
                           "vector has unit L2 norm (+/- 0.001)"}  # fmt: skip


def test_norm_is_not_checked_when_not_expected(cfg: Config):
    path = _write(cfg.embeddings_dir / "x.parquet", IDS, 3 * _vectors())
    assert _gate(path, cfg, unit_norm=False).success


def test_duplicate_missing_and_unknown_ids_fail(cfg: Config):
    ids = IDS.copy()
    ids[1] = ids[0]  # duplicate of 100; 101 is now missing
    ids[2] = 9_999  # unknown; 102 is missing
    path = _write(cfg.embeddings_dir / "x.parquet", ids, _vectors())

    failed = _failures(path, cfg)

    assert failed["item_id is unique (one vector per id)"].unexpected_count == 2
    missing = failed["every expected item has a vector in x.parquet"]
    assert (missing.table, missing.unexpected_count, missing.examples) == (
        "items_expected",
        2,
        ["101", "102"],
    )
    assert failed["item_id is an expected id (unknown ids shown)"].examples == ["9999"]


def test_two_versions_in_one_file_fail(cfg: Config):
    path = _write(cfg.embeddings_dir / "x.parquet", IDS[:2], _vectors(2), version="v1")
    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table, table.set_column(1, "version", pa.array(["v2", "v2"]))]), path)

    failed = _failures(path, cfg, expected=None)

    assert "one version per file" in failed
