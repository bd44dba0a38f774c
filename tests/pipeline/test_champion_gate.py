"""The quality gate scores the live version's published vectors on the candidate's window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from embedding_jobs.export import write_vectors
from gfm import releases
from gfm.config import Config
from gfm.errors import GateFailedError
from gfm.naming import export_path
from pipeline.context import RunContext
from pipeline.provenance import ProvenanceCard, write_card
from pipeline.quality_gate import quality_gate

LIVE, NEW = "v20261201t000000_aaaaaa", "v20261202t000000_bbbbbb"
N = 60  # items 1..30 podcasts, 31..60 audiobooks


def _world(tmp_path: Path, live_headline: dict[str, float], champion_good: bool) -> Config:
    cfg = Config.load(environ={}, data_dir=tmp_path)
    cfg.marts_dir.mkdir(parents=True)
    ids = np.arange(1, N + 1)
    types = np.where(ids <= 30, "podcast", "audiobook")
    pd.DataFrame({"item_id": ids, "content_type": types}).to_parquet(cfg.marts_dir / "dim_items.parquet")
    pd.DataFrame({"user_id": [1, 2], "item_id": [1, 31], "is_consumed": [True, True]}).to_parquet(
        cfg.marts_dir / "fct_interactions.parquet"
    )
    pd.DataFrame(
        {"user_id": [1, 2], "item_id": [2, 32], "content_type": ["podcast", "audiobook"]}
    ).to_parquet(cfg.marts_dir / "fct_eval_interactions.parquet")
    items = np.eye(N, dtype=np.float32)
    sign = 1.0 if champion_good else -1.0  # -1: each user's eval item ranks last
    users = sign * items[[1, 31]]
    write_vectors(export_path(cfg.embeddings_dir, "two_tower", LIVE, "item"), "item_id", ids, items, LIVE)
    write_vectors(
        export_path(cfg.embeddings_dir, "two_tower", LIVE, "user"), "user_id", np.array([1, 2]), users, LIVE
    )
    releases.start_run(tmp_path, LIVE)
    releases.transition(tmp_path, LIVE, "gated")
    releases.begin_move(tmp_path, "publish", LIVE)
    releases.commit_move(tmp_path, "test")
    card = ProvenanceCard.start(cfg, LIVE)
    card.status = "published"
    card.metrics = {"headline": {**live_headline, "mean": float(np.mean(list(live_headline.values())))}}
    write_card(cfg, card)
    return cfg


def _candidate(cfg: Config, podcast: float, audiobook: float) -> RunContext:
    card = ProvenanceCard.start(cfg, NEW)
    card.metrics = {
        "headline": {"podcast": podcast, "audiobook": audiobook, "mean": (podcast + audiobook) / 2}
    }
    return RunContext(cfg, card)


def test_the_champion_is_scored_on_this_window_not_read_from_its_old_card(tmp_path: Path) -> None:
    # the live card claims .1 (another window); on this window its vectors hit every user: 1.0
    cfg = _world(tmp_path, {"podcast": 0.1, "audiobook": 0.1}, champion_good=True)
    ctx = _candidate(cfg, 0.5, 0.5)
    with pytest.raises(GateFailedError, match="champion on this window"):
        quality_gate(ctx)
    gate = ctx.card.gates["quality"]
    assert gate["champion_by_type"] == {"audiobook": 1.0, "podcast": 1.0} and gate["passed"] is False


def test_a_candidate_better_than_the_champion_passes(tmp_path: Path) -> None:
    cfg = _world(tmp_path, {"podcast": 0.9, "audiobook": 0.9}, champion_good=False)
    ctx = _candidate(cfg, 0.5, 0.5)
    quality_gate(ctx)  # the card's .9 would have refused it; the champion scores 0 here
    assert ctx.card.gates["quality"]["live"] == 0.0 and ctx.card.gates["quality"]["passed"] is True


def test_types_that_appear_or_go_are_reported_not_averaged(tmp_path: Path) -> None:
    cfg = _world(tmp_path, {"podcast": 0.1, "audio_course": 0.1}, champion_good=False)
    ctx = _candidate(cfg, 0.5, 0.5)
    quality_gate(ctx)
    gate = ctx.card.gates["quality"]
    assert gate["types_appeared"] == ["audiobook"] and gate["types_gone"] == ["audio_course"]
    assert gate["types_compared"] == ["audiobook", "podcast"]


def test_without_the_live_export_the_gate_falls_back_to_the_card_and_says_so(tmp_path: Path) -> None:
    cfg = _world(tmp_path, {"podcast": 0.9, "audiobook": 0.9}, champion_good=True)
    export_path(cfg.embeddings_dir, "two_tower", LIVE, "user").unlink()
    ctx = _candidate(cfg, 0.5, 0.5)
    with pytest.raises(GateFailedError, match="its export is gone"):
        quality_gate(ctx)
