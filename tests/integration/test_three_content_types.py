"""A third content type reaches every stage of ``gfm run`` with no code change.

The communities mode of the generator makes podcasts, audiobooks and audio courses. One tiny run
(no comparison runs) must show ``audio_course`` in the marts' item edges per type pair, in the
Feast user feature view's columns, in the HGNN's relations, in the evaluation report's rows, and
behind the Milvus content-type filter.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gfm.config import Config
from pipeline.run import run_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.integration]

THIRD = "audio_course"
TYPES = {"podcast", "audiobook", THIRD}
TINY = {
    "generate": {
        "tastes": "communities",
        "users": 300,
        "podcasts": 120,
        "audiobooks": 60,
        "audio_courses": 50,
        "communities": 4,
    },
    "hgnn": {"epochs": 1, "device": "cpu"},
    "two_tower": {"epochs": 1, "batch_size": 256, "device": "cpu"},
    "evaluate": {"train_companions": False, "peers": False},
}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    cfg = Config.load(data_dir=tmp_path_factory.mktemp("three") / "data", overrides=TINY, environ={})
    result = run_pipeline(cfg, source="synthetic")
    yield cfg, result
    from vector_index.client import close_clients

    close_clients()


def test_the_run_publishes_with_three_content_types(published):
    cfg, result = published
    assert result.status == "published"
    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["content_type"])
    assert set(items["content_type"]) == TYPES


def test_the_marts_hold_item_edges_for_every_pair_with_the_third_type(published):
    cfg, _ = published
    edges = pd.read_parquet(cfg.marts_dir / "fct_item_edges.parquet", columns=["relation"])
    relations = set(edges["relation"])
    for pair in ("audio_course__audio_course", "audio_course__audiobook", "audio_course__podcast"):
        assert pair in relations


def test_the_feast_user_view_has_a_column_for_the_third_type(published):
    cfg, _ = published
    from feature_repo.store.repo import get_store

    view = get_store(cfg).get_feature_view("user_activity")  # over user_features_daily
    assert f"n_streams_90d_{THIRD}" in {f.name for f in view.features}


def test_the_hgnn_has_relations_with_the_third_type(published):
    cfg, result = published
    from embedding_jobs.checkpoint import load_checkpoint
    from gfm.naming import checkpoint_dir

    state, _ = load_checkpoint(checkpoint_dir(cfg.models_dir, "hgnn", result.version), map_location="cpu")
    spec = state["spec"]
    assert THIRD in spec["node_types"]
    touching = [tuple(et) for et in spec["edge_types"] if THIRD in (et[0], et[2])]
    assert {et[0] for et in touching} | {et[2] for et in touching} >= {THIRD, "podcast", "audiobook"}


def test_the_report_has_rows_for_the_third_type(published):
    _, result = published
    report = json.loads(result.report_path.read_text())
    for model in ("HGNN", "2T-HGNN"):
        metrics = report["models"][model]["by_type"][THIRD]
        assert metrics["n_users"] > 0 and 0.0 <= metrics["hr@10"] <= 1.0
    assert THIRD in result.report_path.with_suffix(".html").read_text()


def test_the_milvus_filter_returns_only_the_third_type(published):
    cfg, _ = published
    from vector_index.ops import client_for
    from vector_index.search import VectorSearcher

    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["item_id", "content_type"])
    courses = set(items.loc[items["content_type"] == THIRD, "item_id"])
    podcast = int(items.loc[items["content_type"] == "podcast", "item_id"].iloc[0])
    searcher = VectorSearcher(client_for(cfg), cfg.index, "item", "two_tower")
    hits = searcher.search(searcher.get_vector(podcast), k=5, content_type=THIRD)[0]
    assert len(hits) == 5 and {h.id for h in hits} <= courses
