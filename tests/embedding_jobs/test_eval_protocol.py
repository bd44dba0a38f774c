"""The seed's protocol on a hand-built case: who is evaluated, what is ranked, what is excluded."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

from embedding_jobs.evaluate import evaluate
from embedding_jobs.evaluate.protocol import TIERS, build_tasks, score_task
from embedding_jobs.evaluate.run import TOWERS_ALONE
from gfm.config import EvaluateConfig

ITEMS = pd.DataFrame(
    {"item_id": [10, 11, 12, 13, 20, 21], "content_type": ["podcast"] * 4 + ["audiobook"] * 2}
)
# user 1 consumed 10 and 20 in training; user 2 only previewed 11; user 3 consumed 12
TRAIN = pd.DataFrame(
    {
        "user_id": [1, 1, 2, 3, 3],
        "item_id": [10, 20, 11, 12, 10],
        "is_consumed": [True, True, False, True, True],
    }
)
# eval: user 1 re-streams 10 (not new) and streams 11; user 2 streams 11 and 21; user 3 re-streams 12 only
EVAL = pd.DataFrame(
    {
        "user_id": [1, 1, 2, 2, 3],
        "item_id": [10, 11, 11, 21, 12],
        "content_type": ["podcast", "podcast", "podcast", "audiobook", "podcast"],
    }
)


def test_users_relevant_items_and_exclusions_per_content_type():
    tasks = {t.name: t for t in build_tasks(ITEMS, TRAIN, EVAL)}
    assert sorted(tasks) == ["audiobook", "podcast"]
    pod = tasks["podcast"]
    assert pod.item_ids.tolist() == [10, 11, 12, 13]  # every podcast, whoever consumed it
    assert pod.user_ids.tolist() == [1, 2]  # user 3 has nothing new in the eval window
    rel = {
        (int(pod.user_ids[r]), int(pod.item_ids[c]))
        for r, c in zip(pod.relevant.rows, pod.relevant.cols, strict=True)
    }
    assert rel == {(1, 11), (2, 11)}  # 10 was already consumed by user 1
    exc = {
        (int(pod.user_ids[r]), int(pod.item_ids[c]))
        for r, c in zip(pod.excluded.rows, pod.excluded.cols, strict=True)
    }
    assert exc == {(1, 10)}  # a preview is not a consumption: user 2's item 11 stays a candidate
    assert pod.is_cold_user.tolist() == [False, True]
    book = tasks["audiobook"]
    assert book.user_ids.tolist() == [2] and book.excluded.rows.size == 0
    # podcast popularity: 10 has two consumers, 12 one, 11 and 13 none
    assert [TIERS[t] for t in pod.item_tier] == ["head", "new", "torso", "new"]


def test_max_users_evaluates_a_seeded_sample_the_same_for_every_call():
    # 50 users each stream one new podcast in the eval window; 30 of them also hold a training item
    users = list(range(100, 150))
    train = pd.DataFrame({"user_id": users[:30], "item_id": [10] * 30, "is_consumed": [True] * 30})
    evals = pd.DataFrame(
        {"user_id": users, "item_id": [11 + u % 3 for u in users], "content_type": ["podcast"] * 50}
    )
    full = {t.name: t for t in build_tasks(ITEMS, train, evals)}["podcast"]
    assert len(full.user_ids) == full.n_eligible_users == 50
    a = {t.name: t for t in build_tasks(ITEMS, train, evals, max_users=20, seed=3)}["podcast"]
    b = {t.name: t for t in build_tasks(ITEMS, train, evals, max_users=20, seed=3)}["podcast"]
    c = {t.name: t for t in build_tasks(ITEMS, train, evals, max_users=20, seed=4)}["podcast"]
    assert a.user_ids.tolist() == b.user_ids.tolist() and len(a.user_ids) == 20
    assert a.user_ids.tolist() != c.user_ids.tolist()  # the seed picks the sample
    assert set(a.user_ids.tolist()) <= set(users) and a.n_eligible_users == 50
    # every sampled user keeps exactly their own relevant item, exclusions and cold flag
    for r, col in zip(a.relevant.rows, a.relevant.cols, strict=True):
        u = int(a.user_ids[r])
        assert int(a.item_ids[col]) == 11 + u % 3
    assert sorted(a.relevant.rows.tolist()) == list(range(20))
    assert a.is_cold_user.tolist() == [u >= 130 for u in a.user_ids.tolist()]
    assert a.excluded.rows.size == int((a.user_ids < 130).sum())
    # a cap above the count changes nothing
    d = {t.name: t for t in build_tasks(ITEMS, train, evals, max_users=50)}["podcast"]
    assert d.user_ids.tolist() == full.user_ids.tolist()


def test_score_task_splits_by_segment_and_tier():
    pod = {t.name: t for t in build_tasks(ITEMS, TRAIN, EVAL)}["podcast"]
    # a scorer that puts item 11 first for user 1 only (user 2 gets 13 > 12 > 11)
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([[0.0, 0.0], [1.0, 0.1], [0.0, 0.5], [0.0, 0.9]])
    out = score_task(pod, users, items, EvaluateConfig(k=1, coverage_k=3, recall_k=2))
    assert out["hr@1"] == 0.5 and out["n_users"] == 2
    assert out["by_segment"]["warm"]["hr@1"] == 1.0 and out["by_segment"]["cold"]["hr@1"] == 0.0
    assert out["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert out["by_tier"]["new"] == {"hr@1": 0.5, "n_users": 2, "n_items": 2}
    assert out["by_tier"]["head"]["n_users"] == 0 and out["by_tier"]["head"]["hr@1"] is None


@pytest.fixture(scope="module")
def trained_world(tmp_path_factory):
    from embedding_jobs.train_two_tower import train_two_tower

    cfg = build_world(tmp_path_factory.mktemp("eval"))
    cfg.evaluate.lightgcn_epochs = 2  # a peer that runs, not one that converges
    cfg.evaluate.device = "cpu"
    with one_thread():
        main = train_two_tower(cfg, "v20261017t000001_aaaaaa", HGNN_VERSION, retrieve=pandas_point_in_time)
    return cfg, main


def test_evaluate_writes_the_report_layout_and_html(trained_world):
    cfg, main = trained_world
    cfg.evaluate.lightgcn = True
    with one_thread():
        path = evaluate(cfg, hgnn_version=HGNN_VERSION, two_tower_version=main.version)
    assert path == cfg.reports_dir / "eval" / main.version / "report.json"
    report = json.loads(path.read_text())
    peers = {"item-kNN", "LightGCN"}
    served = {"2T-HGNN", TOWERS_ALONE}  # as served (blended with the HGNN) and the towers alone
    assert set(report["models"]) == {"Popularity", "text-kNN", "HGNN"} | served | peers
    assert report["protocol"]["2T-HGNN"].startswith("as served: P(i | u) = 0.75 P_tt(i | u) + 0.25 P_mix")
    assert "Oracle" in report["inputs"]["skipped"]  # no true groups in this world
    assert report["inputs"]["references"]["LightGCN"]["epochs"] == 2
    for body in report["models"].values():
        for ctype in ("audiobook", "podcast"):
            cell = body["by_type"][ctype]
            assert {"hr@10", "mrr", "coverage", "n_users", "cold_in_type", "tiers"} <= set(cell)
            assert 0.0 <= cell["hr@10"] <= 1.0
            assert body["by_segment"]["cold"][ctype]["n_users"] > 0
            assert set(body["by_tier"]) == set(TIERS) == set(cell["tiers"])
            assert cell["tiers"]["new"] == body["by_tier"]["new"][ctype]
            # the globally cold users are cold in every type
            assert cell["cold_in_type"]["n_users"] >= body["by_segment"]["cold"][ctype]["n_users"]
        assert "full" not in body  # not a fixed split
    assert report["targets"]["checks"]
    assert {c["rival"] for c in report["targets"]["checks"]} >= peers
    html = (path.parent / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3
    assert "Cold start as the seed measures it" in html and "item-kNN" in html


def test_the_oracle_joins_when_the_true_groups_exist(trained_world):
    from embedding_jobs.evaluate.oracle import truth_path

    cfg, main = trained_world
    cfg.evaluate.lightgcn = False  # the Oracle alone is asked for here
    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet")
    truth = truth_path(cfg.raw_dir)
    truth.parent.mkdir(parents=True, exist_ok=True)
    # build_world's items belong to topic (position % 4), the group the users draw from
    pd.DataFrame({"item_id": items["item_id"], "group_id": (items["item_id"] - 1001) % 4}).to_parquet(truth)
    try:
        report = json.loads(
            evaluate(cfg, hgnn_version=HGNN_VERSION, two_tower_version=main.version).read_text()
        )
    finally:
        truth.unlink()
    assert list(report["models"])[-1] == "Oracle" and "LightGCN" in report["inputs"]["skipped"]
    assert "Oracle" in report["protocol"]
    assert not any(c["rival"] == "Oracle" for c in report["targets"]["checks"])
    for ctype in ("audiobook", "podcast"):
        warm = {m: b["by_segment"]["warm"][ctype]["hr@10"] for m, b in report["models"].items()}
        # knowing the true topics, the Oracle beats popularity for users with a history
        assert warm["Oracle"] > warm["Popularity"]


def test_a_fixed_split_adds_full_ranking_recall_and_ndcg(trained_world):
    from ingest.manifest import read_manifest, write_manifest

    cfg, main = trained_world
    manifest = read_manifest(cfg.raw_dir)
    write_manifest(manifest.model_copy(update={"fixed_split": True}), cfg.raw_dir)
    try:
        report = json.loads(
            evaluate(cfg, hgnn_version=HGNN_VERSION, two_tower_version=main.version).read_text()
        )
    finally:
        write_manifest(manifest, cfg.raw_dir)
    full = report["models"]["2T-HGNN"]["full"]
    assert 0.0 <= full["recall@20"] <= 1.0 and 0.0 <= full["ndcg@20"] <= 1.0
    assert full["n_users"] == report["tasks"]["all"]["n_users"] > 0


def test_cold_in_type_users_and_the_new_item_tier_on_a_hand_built_case():
    items = pd.DataFrame(
        {"item_id": [10, 11, 20, 21, 22], "content_type": ["podcast"] * 2 + ["audiobook"] * 3}
    )
    # user 1 has both types; user 2 podcasts only (cold in audiobooks, warm overall);
    # user 3 no consumption at all; user 4 (not evaluated) makes audiobook 21 known
    train = pd.DataFrame(
        {"user_id": [1, 1, 2, 4, 3], "item_id": [10, 20, 11, 21, 21], "is_consumed": [True] * 4 + [False]}
    )
    # audiobook 22 has no training consumer: the new tier
    evals = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [21, 22, 21], "content_type": "audiobook"})
    book = {t.name: t for t in build_tasks(items, train, evals)}["audiobook"]
    assert book.user_ids.tolist() == [1, 2, 3] and book.item_ids.tolist() == [20, 21, 22]
    assert book.is_cold_in_type.tolist() == [False, True, True]
    assert book.is_cold_user.tolist() == [False, False, True]
    assert [TIERS[t] for t in book.item_tier] == ["head", "torso", "new"]
    # top-1: user 1 -> 21 (hit), user 2 -> 21 (miss, 22 was relevant), user 3 -> 21 (hit)
    users = torch.eye(3)
    items_m = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.5, 0.0]])
    out = score_task(book, users, items_m, EvaluateConfig(k=1, coverage_k=3, recall_k=2))
    assert out["cold_in_type"]["n_users"] == 2 and out["cold_in_type"]["hr@1"] == 0.5
    assert out["cold_in_type"]["mrr"] == pytest.approx((1 / 2 + 1) / 2)
    assert out["by_segment"]["cold"]["n_users"] == 1
    assert out["tiers"]["new"] == {"hr@1": 0.0, "n_users": 1, "n_items": 1}
    assert out["tiers"] == out["by_tier"] and set(out["tiers"]) == set(TIERS)
    # item 22 first for user 2 only: the new tier is hit
    items_m[2, 1] = 2.0
    out = score_task(book, users, items_m, EvaluateConfig(k=1, coverage_k=3, recall_k=2))
    assert out["tiers"]["new"]["hr@1"] == 1.0 and out["cold_in_type"]["hr@1"] == 1.0
