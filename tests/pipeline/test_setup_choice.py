"""The setup chosen from a manifest's traits and the data's size, never over the user's settings."""

from __future__ import annotations

from embedding_jobs.data.link_sampler import drawn_per_relation
from gfm.config import Config
from ingest.manifest import SourceTraits
from pipeline.setup_choice import (
    HELD_OUT_SHARE,
    HGNN_CPU_EDGES,
    HGNN_LARGE_EPOCH,
    LARGE_PAIRS,
    SKETCH_DIM_NO_TEXT,
    SKETCH_DIM_NO_TEXT_CUDA,
    choose_setup,
)

FULL = SourceTraits(
    has_item_text=True,
    has_item_metadata=True,
    has_user_profiles=True,
    has_weak_signals=True,
    has_play_time=True,
    has_event_times=True,
)
ID_ONLY_FIXED_SPLIT = FULL.model_copy(update={"has_item_text": False, "has_event_times": False})


def _cfg(environ: dict[str, str] | None = None) -> Config:
    return Config.load(environ=environ or {}, data_dir=None)


def test_a_full_small_source_keeps_the_defaults() -> None:
    cfg = _cfg()
    out, choices = choose_setup(cfg, FULL, n_train_pairs=10_000, hgnn_epoch_edges=10_000, cuda=False)
    assert choices == [] and out == cfg
    assert choose_setup(cfg, None, n_train_pairs=10_000, hgnn_epoch_edges=10_000, cuda=False)[1] == []


def test_an_id_only_fixed_split_source_like_yelp_gets_its_setup_with_reasons() -> None:
    out, choices = choose_setup(
        # Yelp2018's marts: 1,237,259 training pairs; 1,636,868 edges in one relation
        _cfg(),
        ID_ONLY_FIXED_SPLIT,
        n_train_pairs=1_237_259,
        hgnn_epoch_edges=1_636_868,
        cuda=False,
    )
    assert out.hgnn.text_features is False and out.hgnn.id_embeddings is False
    assert out.hgnn.sketch_dim == SKETCH_DIM_NO_TEXT > _cfg().hgnn.sketch_dim  # its only input
    assert out.two_tower.val_days == 0 and out.two_tower.batch_days == 0
    assert out.two_tower.hgnn_as_of is False  # made-up times say nothing about when edges came
    # a random tenth of the pairs, scored as the split's test, chooses the epochs and ID vectors
    tt = out.two_tower
    assert (tt.val_share, tt.val_protocol) == (HELD_OUT_SHARE, "window")
    assert tt.item_ids and tt.history_ids and tt.choose_ids and not tt.history_as_of
    # 4 epochs of the similarity-ranked graph: 8M edges in all, as round 23's 10 of the old one
    assert (out.hgnn.epochs, out.hgnn.batch_size) == (4, 2048)
    assert (out.two_tower.epochs, out.two_tower.batch_size) == (3, 4096)
    settings = {c.to_dict()["setting"] for c in choices}
    assert "hgnn.text_features" in settings and "two_tower.epochs" in settings
    assert all(c.why for c in choices)


def _small_id_only(environ: dict[str, str]) -> Config:
    """The config chosen for a small source without item text, under these settings."""
    return choose_setup(
        _cfg(environ), ID_ONLY_FIXED_SPLIT, n_train_pairs=10, hgnn_epoch_edges=10, cuda=False
    )[0]


def test_without_a_sketch_an_id_only_source_learns_id_embeddings() -> None:
    out = _small_id_only({"GFM__HGNN__SKETCH_DIM": "0"})
    assert out.hgnn.id_embeddings is True and out.hgnn.text_features is True


def test_on_cuda_a_source_without_text_gets_the_larger_sketch() -> None:
    out, choices = choose_setup(
        _cfg(), ID_ONLY_FIXED_SPLIT, n_train_pairs=1_000, hgnn_epoch_edges=1_000, cuda=True
    )
    assert out.hgnn.sketch_dim == SKETCH_DIM_NO_TEXT_CUDA > SKETCH_DIM_NO_TEXT
    on_cpu, _ = choose_setup(
        _cfg(), ID_ONLY_FIXED_SPLIT, n_train_pairs=1_000, hgnn_epoch_edges=1_000, cuda=False
    )
    assert on_cpu.hgnn.sketch_dim == SKETCH_DIM_NO_TEXT
    assert any(c.field == "sketch_dim" and "CUDA" in c.why for c in choices)
    with_text, _ = choose_setup(_cfg(), FULL, n_train_pairs=1_000, hgnn_epoch_edges=1_000, cuda=True)
    assert with_text.hgnn.sketch_dim == _cfg().hgnn.sketch_dim  # text beside it: unchanged


def test_on_cuda_a_large_source_keeps_its_epochs() -> None:
    cfg = _cfg()
    out, _ = choose_setup(
        cfg, FULL, n_train_pairs=LARGE_PAIRS + 1, hgnn_epoch_edges=HGNN_LARGE_EPOCH + 1, cuda=True
    )
    assert out.hgnn.epochs == cfg.hgnn.epochs and out.two_tower.epochs == cfg.two_tower.epochs
    assert out.two_tower.batch_size == 4096 and out.hgnn.batch_size == 2048


def test_a_large_hgnn_trains_in_bf16_only_on_a_cpu_that_computes_it_natively() -> None:
    big = {"n_train_pairs": 10, "hgnn_epoch_edges": HGNN_LARGE_EPOCH + 1}
    out, choices = choose_setup(_cfg(), FULL, **big, cuda=False, native_bf16=True)
    assert out.hgnn.precision == "bf16"
    assert any(c.field == "precision" and "bfloat16 in hardware" in c.why for c in choices)
    assert choose_setup(_cfg(), FULL, **big, cuda=False, native_bf16=False)[0].hgnn.precision == "fp32"
    assert choose_setup(_cfg(), FULL, **big, cuda=True, native_bf16=True)[0].hgnn.precision == "fp32"
    small = choose_setup(_cfg(), FULL, n_train_pairs=10, hgnn_epoch_edges=10, cuda=False, native_bf16=True)
    assert small[0].hgnn.precision == "fp32"  # the synthetic modes' graphs: as measured, in float32
    kept = _cfg({"GFM__HGNN__PRECISION": "fp32"})
    assert choose_setup(kept, FULL, **big, cuda=False, native_bf16=True)[0].hgnn.precision == "fp32"


def test_the_hgnn_budget_follows_its_graph_not_the_logs() -> None:
    """Many users over a small, balanced item graph (30x the synthetic default) keep every HGNN epoch."""
    cfg = _cfg()
    relations = {"audiobook__audiobook": 9_000, "audiobook__podcast": 9_600, "podcast__podcast": 21_000}
    epoch = sum(drawn_per_relation(relations, balanced=True).values())
    assert epoch == 3 * 9_600
    out, choices = choose_setup(cfg, FULL, n_train_pairs=1_026_647, hgnn_epoch_edges=epoch, cuda=False)
    assert (out.hgnn.epochs, out.hgnn.batch_size) == (cfg.hgnn.epochs, cfg.hgnn.batch_size)
    assert out.two_tower.epochs == 3  # the two-tower's cost does follow the logs
    assert {c.section for c in choices} == {"two_tower"}
    # an epoch of many edges is cut so that all epochs draw at most HGNN_CPU_EDGES
    out, _ = choose_setup(cfg, FULL, n_train_pairs=10, hgnn_epoch_edges=300_000, cuda=False)
    assert out.hgnn.epochs == HGNN_CPU_EDGES // 300_000 and out.hgnn.batch_size == cfg.hgnn.batch_size


def test_what_the_user_set_is_never_overridden() -> None:
    cfg = _cfg({"GFM__HGNN__EPOCHS": "7", "GFM__HGNN__ID_EMBEDDINGS": "false"})
    out, choices = choose_setup(
        cfg, ID_ONLY_FIXED_SPLIT, n_train_pairs=2_000_000, hgnn_epoch_edges=2_000_000, cuda=False
    )
    assert out.hgnn.epochs == 7 and out.hgnn.id_embeddings is False
    assert "hgnn.epochs" not in {c.to_dict()["setting"] for c in choices}
    assert out.two_tower.epochs == 3  # not set by the user: chosen
    out = _small_id_only({"GFM__HGNN__SKETCH_DIM": "128"})
    assert (out.hgnn.sketch_dim, out.hgnn.text_features) == (128, False)
    out = _small_id_only({"GFM__TWO_TOWER__ITEM_IDS": "false", "GFM__TWO_TOWER__VAL_SHARE": "0.2"})
    assert (out.two_tower.item_ids, out.two_tower.val_share) == (False, 0.2)
    assert out.two_tower.choose_ids is True  # not set by the user: chosen (no effect without IDs)


def test_the_evaluation_stage_keeps_the_setup_choices_on_the_card(tmp_path, monkeypatch) -> None:
    """The provenance card's metrics gain the report; the choices recorded before training stay.

    ``evaluate_version`` is replaced by a report on disk here; the real evaluation runs in
    tests/integration/test_pipeline_e2e.py.
    """
    import json

    import embedding_jobs.evaluate.run as run_mod
    from pipeline import stages
    from pipeline.context import RunContext

    report = tmp_path / "report.json"
    report.write_text(
        json.dumps({"models": {"2T-HGNN": {"by_type": {"podcast": {"hr@10": 0.4, "n_users": 9}}}}})
    )
    monkeypatch.setattr(run_mod, "evaluate_version", lambda cfg, version, train_missing: report)
    ctx = RunContext.start(Config.load(environ={}, data_dir=tmp_path), "synthetic")
    chosen = [{"setting": "hgnn.text_features", "value": False, "why": "no item text"}]
    ctx.card.metrics["setup_choices"] = chosen
    assert stages.evaluate(ctx) == report
    assert ctx.card.metrics["setup_choices"] == chosen
    assert ctx.card.metrics["headline"] == {"podcast": 0.4, "mean": 0.4}
