"""``gfm run`` end to end on a tiny synthetic platform, with every real component.

The run generates raw logs, builds the dbt marts, passes the GX gates, applies and materializes
Feast, embeds text with the shipped MiniLM, trains the HGNN and the two-tower model, gates and
evaluates the vectors, publishes to Feast and Milvus Lite, and answers a search through the live
alias. A second run whose quality gate cannot pass must leave the first version live.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gfm.config import Config
from gfm.errors import GateFailedError
from pipeline.run import run_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TINY = {
    "generate": {"users": 300, "podcasts": 160, "audiobooks": 70, "topics": 6},
    "hgnn": {"epochs": 2, "device": "cpu"},
    "two_tower": {"epochs": 2, "batch_size": 256, "device": "cpu"},
}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    cfg = Config.load(data_dir=tmp_path_factory.mktemp("e2e") / "data", overrides=TINY, environ={})
    result = run_pipeline(cfg, source="synthetic")
    yield cfg, result
    from vector_index.client import close_clients

    close_clients()


def test_run_publishes_a_searchable_version_with_a_full_provenance_card(published):
    cfg, result = published
    assert result.status == "published"
    card = json.loads(result.card_path.read_text())
    assert card["version"] == result.version and card["status"] == "published"
    assert [s["status"] for s in card["stages"]] == ["ok"] * len(card["stages"])
    assert {"raw", "marts", "embeddings", "quality"} <= set(card["gates"])
    assert card["dbt"]["row_counts"]["dim_items"] == 230
    assert card["packages"]["torch"].startswith("2.13")

    report = json.loads(result.report_path.read_text())
    for model in ("Popularity", "text-kNN", "HGNN", "2T-HGNN", "item-kNN"):
        for content_type in ("audiobook", "podcast"):
            metrics = report["models"][model]["by_type"][content_type]
            assert 0.0 <= metrics["hr@10"] <= 1.0 and metrics["n_users"] > 0
    # the run trains no 2T baseline by default, and the report says how to get one
    assert "2T" not in report["models"] and "gfm evaluate" in report["inputs"]["skipped"]["2T"]
    page = result.report_path.with_suffix(".html").read_text()
    assert f"Provenance of {result.version}" in page and card["data_fingerprint"] in page

    from vector_index.ops import client_for
    from vector_index.search import VectorSearcher
    from vector_index.versions import live_version

    client = client_for(cfg)
    assert live_version(client, "item_two_tower") == result.version
    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["item_id", "content_type"])
    first, second = (int(i) for i in items["item_id"].head(2))
    searcher = VectorSearcher(client, cfg.index, "item", "two_tower")
    hits = searcher.search(searcher.get_vector(first), k=5, content_type="podcast")[0]
    assert len(hits) == 5
    podcasts = set(items.loc[items["content_type"] == "podcast", "item_id"])
    assert {h.id for h in hits} <= podcasts

    from feature_repo.client import EmbeddingClient

    emb = EmbeddingClient(cfg).get_item_embeddings([first, second, 10**9], model="hgnn")
    assert emb.version == result.version
    assert emb.found.tolist() == [True, True, False]
    text = EmbeddingClient(cfg).get_item_embeddings([first], model="text")
    assert text.found.all() and text.vectors.shape == (1, cfg.text.dim)


def test_gfm_evaluate_adds_the_2t_baseline_to_the_runs_report(published):
    from embedding_jobs.evaluate.run import evaluate_version

    cfg, result = published
    path = evaluate_version(cfg, result.version)
    assert path == result.report_path
    report = json.loads(path.read_text())
    assert "2T" not in report["inputs"]["skipped"]
    for content_type in ("audiobook", "podcast"):
        assert report["models"]["2T"]["by_type"][content_type]["n_users"] > 0
    companions = json.loads((path.parent / "companions.json").read_text())
    assert evaluate_version(cfg, result.version) == path  # the second call reuses the baseline
    assert json.loads((path.parent / "companions.json").read_text()) == companions


def test_the_ablation_trains_the_other_relation_sampler_beside_the_main_run(published):
    from embedding_jobs.checkpoint import load_checkpoint
    from embedding_jobs.evaluate.run import ABLATION, evaluate_version
    from gfm.naming import checkpoint_dir

    cfg, result = published
    main = json.loads(result.report_path.read_text())["models"]["2T-HGNN"]
    on = cfg.model_copy(update={"evaluate": cfg.evaluate.model_copy(update={"ablation": True})})
    path = evaluate_version(on, result.version)
    report = json.loads(path.read_text())
    for content_type in ("audiobook", "podcast"):
        assert report["models"][ABLATION]["by_type"][content_type]["n_users"] > 0
    assert report["models"]["2T-HGNN"] == main  # the main run is evaluated as before
    companions = json.loads((path.parent / "companions.json").read_text())
    _, hgnn = load_checkpoint(checkpoint_dir(cfg.models_dir, "hgnn", companions["ablation_hgnn"]))
    assert hgnn.config["hgnn"]["balanced_sampler"] is (not cfg.hgnn.balanced_sampler)
    _, tower = load_checkpoint(checkpoint_dir(cfg.models_dir, "two_tower", companions[ABLATION]))
    assert tower.extra["hgnn_version"] == companions["ablation_hgnn"]
    assert companions[ABLATION] < result.version  # dated before: "latest" still means the main run


def test_a_failed_quality_gate_leaves_the_previous_version_live(published):
    cfg, first = published
    # a tolerance of -1 asks for an HR@10 gain of 1.0, which no run can reach
    strict = cfg.model_copy(update={"publish": cfg.publish.model_copy(update={"hr_tolerance": -1.0})})
    with pytest.raises(GateFailedError, match=first.version):
        run_pipeline(strict, source="existing")

    from vector_index.ops import client_for
    from vector_index.versions import live_version

    assert live_version(client_for(cfg), "item_two_tower") == first.version
    cards = sorted((cfg.reports_dir / "provenance").glob("v*.json"))
    last = json.loads(cards[-1].read_text())
    assert last["status"] == "gate_failed" and "quality" in last["reason"]
