"""Drift against the live version: recorded on the card, refused under a configured floor, shown by
``gfm versions --compare``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from embedding_jobs.export import write_vectors
from gfm.config import Config
from gfm.errors import GateFailedError
from gfm.naming import export_path
from pipeline.cli import app
from pipeline.context import RunContext
from pipeline.provenance import ProvenanceCard
from pipeline.quality_gate import _drift_gate

LIVE, NEW = "v20261201t000000_aaaaaa", "v20261202t000000_bbbbbb"


def _world(tmp_path: Path, reshuffle: bool) -> Config:
    cfg = Config.load(environ={}, data_dir=tmp_path)
    rng = np.random.default_rng(0)
    ids = np.arange(1, 61)
    items = rng.normal(size=(60, 8)).astype(np.float32)
    users = rng.normal(size=(20, 8)).astype(np.float32)
    new_items = items[rng.permutation(60)] if reshuffle else items.copy()
    for version, vecs in ((LIVE, items), (NEW, new_items)):
        write_vectors(
            export_path(cfg.embeddings_dir, "two_tower", version, "item"), "item_id", ids, vecs, version
        )
        write_vectors(
            export_path(cfg.embeddings_dir, "two_tower", version, "user"),
            "user_id",
            np.arange(20),
            users,
            version,
        )
    cfg.marts_dir.mkdir(parents=True, exist_ok=True)
    types = np.where(ids % 2 == 0, "podcast", "audiobook")
    pd.DataFrame({"item_id": ids, "content_type": types}).to_parquet(cfg.marts_dir / "dim_items.parquet")
    return cfg


def _ctx(cfg: Config) -> RunContext:
    card = ProvenanceCard.start(cfg, NEW)
    card.gates["quality"] = {"passed": True}
    return RunContext(cfg, card)


def test_drift_is_recorded_and_a_quiet_retrain_passes_any_floor(tmp_path: Path) -> None:
    cfg = _world(tmp_path, reshuffle=False)
    cfg = cfg.model_copy(update={"publish": cfg.publish.model_copy(update={"min_neighbour_overlap": 0.99})})
    ctx = _ctx(cfg)
    _drift_gate(ctx, LIVE)
    assert ctx.card.metrics["drift"]["items"]["overlap_at_k"] == pytest.approx(1.0)
    assert ctx.card.gates["quality"]["passed"] is True


def test_a_reshuffle_under_the_floor_is_refused_and_recorded(tmp_path: Path) -> None:
    cfg = _world(tmp_path, reshuffle=True)
    ctx = _ctx(
        cfg.model_copy(update={"publish": cfg.publish.model_copy(update={"min_neighbour_overlap": 0.5})})
    )
    with pytest.raises(GateFailedError, match=r"overlap@10 .* is under 0\.5"):
        _drift_gate(ctx, LIVE)
    assert ctx.card.gates["quality"]["passed"] is False
    assert ctx.card.metrics["drift"]["items"]["overlap_at_k"] < 0.5
    # without a floor the same drift is only recorded
    relaxed = _ctx(cfg)
    _drift_gate(relaxed, LIVE)
    assert relaxed.card.gates["quality"]["passed"] is True


def test_versions_compare_prints_the_drift_tables(tmp_path: Path) -> None:
    _world(tmp_path, reshuffle=True)
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "versions", "--compare", LIVE, NEW])
    assert result.exit_code == 0, result.output
    assert "overlap@10" in result.output and "item neighbours" in result.output
    assert (tmp_path / "reports" / "drift" / f"two_tower_{LIVE}_{NEW}.json").exists()
