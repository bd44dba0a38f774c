"""The pipeline's stages as small functions over the run context (config, version, card).

Each function calls one package's public API, records what it produced on the card, and returns
what the next stage needs. ``pipeline.run`` chains them; keeping them here keeps that file a
readable list of steps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gfm.config import Config
from gfm.errors import GateFailedError, StageError
from gfm.naming import export_dir, export_path
from gfm.progress import console
from pipeline.context import RunContext
from pipeline.provenance import card_path
from pipeline.quality_gate import headline_metrics


def ingest(ctx: RunContext, source: str, source_path: Path | None) -> None:
    """Make sure a raw batch exists: generate, import, or reuse the existing raw folder."""
    from ingest.manifest import read_manifest

    cfg, card = ctx.cfg, ctx.card
    manifest_file = cfg.raw_dir / "_manifest.json"
    if source == "existing":
        if not manifest_file.exists():
            raise StageError(f"no raw batch at {cfg.raw_dir}: run `gfm generate` or `gfm import` first")
    elif source == "synthetic":
        from ingest.generate import generate

        # deterministic for a seed and seconds at the default scale: regenerate rather than guess
        # whether the batch on disk was made with the same settings
        generate(cfg.generate, cfg.raw_dir)
    else:
        from ingest import lightgcn, movielens

        default = Path("..") / "shared" / "data"
        if source == "movielens":
            movielens.import_movielens(source_path or default / "movielens_ml_latest_small", cfg.raw_dir)
        elif source == "lightgcn":
            lightgcn.import_lightgcn(source_path or default / "yelp2018_lightgcn", cfg.raw_dir)
        else:
            raise StageError(f"unknown source {source!r}: use synthetic, movielens, lightgcn or existing")
    manifest = read_manifest(cfg.raw_dir)
    from gfm.tombstones import read_tombstones
    from ingest.forgotten import scrub_raw

    forgotten = read_tombstones(cfg.data_dir)
    if forgotten:  # users removed by `gfm forget` do not come back with a new batch
        removed = scrub_raw(cfg.raw_dir, forgotten)
        console.print(f"left out forgotten users' raw rows: {removed}", highlight=False)
    card.source = manifest.source
    from gfm.versioning import fingerprint_files

    card.data_fingerprint = fingerprint_files([p for p in cfg.raw_dir.rglob("*") if p.is_file()])


def transform(ctx: RunContext) -> None:
    """Raw gate, dbt build, marts gate, promotion (``warehouse.transform.run_transform``)."""
    from warehouse.transform import run_transform

    cfg, card = ctx.cfg, ctx.card
    try:
        result = run_transform(cfg)
    finally:
        card.gates.update(_gate_summaries(cfg, ("raw", "marts")))
    card.dbt = result.to_dict()
    _print_counts("marts", result.row_counts)


def choose_setup(ctx: RunContext) -> RunContext:
    """The setup this dataset needs (``pipeline.setup_choice``), printed and put on the card.

    Reads the raw manifest's traits and the training pairs in the marts; returns the context
    with the chosen config (the same context when nothing needed changing).
    """
    import dataclasses

    from pipeline.setup_choice import choose_for_data

    chosen, choices = choose_for_data(ctx.cfg)
    if not choices:
        return ctx
    for c in choices:
        console.print(c.line())
    ctx.card.config = chosen.model_dump(mode="json")
    ctx.card.metrics["setup_choices"] = [c.to_dict() for c in choices]
    return dataclasses.replace(ctx, cfg=chosen)


def features(ctx: RunContext) -> None:
    """Register the Feast definitions and materialize the online store."""
    from feature_repo.store.materialize import materialize
    from feature_repo.store.repo import apply_definitions

    cfg, card = ctx.cfg, ctx.card
    names = apply_definitions(cfg)
    result = materialize(cfg)
    card.feast["applied"] = names
    card.feast["materialize"] = _jsonable(result)


def text(ctx: RunContext) -> None:
    """Text-encoder node features (cached by text hash), served as a Feast view."""
    from embedding_jobs.text_features import build_text_features
    from feature_repo.store.publish import publish_text_embeddings

    cfg, card = ctx.cfg, ctx.card
    result = build_text_features(cfg)
    card.checkpoints["text"] = _jsonable(result)
    # the item_text_embedding feature view: text vectors by item key for downstream teams
    card.feast["text_view"] = str(publish_text_embeddings(cfg, result.model_key))


def hgnn(ctx: RunContext) -> None:
    """Train the HGNN and export item vectors for every item."""
    from embedding_jobs.train_hgnn import train_hgnn

    cfg, card, version = ctx.cfg, ctx.card, ctx.version
    result = train_hgnn(cfg, version)
    card.checkpoints["hgnn"] = _jsonable(result)


def two_tower(ctx: RunContext) -> None:
    """Train the two-tower model on the HGNN vectors and export item and user vectors."""
    from embedding_jobs.train_two_tower import train_two_tower

    cfg, card, version = ctx.cfg, ctx.card, ctx.version
    result = train_two_tower(cfg, version, hgnn_version=version)
    card.checkpoints["two_tower"] = _jsonable(result)


def embedding_gate(ctx: RunContext) -> None:
    """GX on the exported vectors: dimension, finite, unit norm, unique ids, every id present."""
    import pandas as pd

    from validation.gates import run_embeddings_gate

    cfg, card, version = ctx.cfg, ctx.card, ctx.version
    item_ids = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["item_id"])["item_id"]
    user_ids = pd.read_parquet(cfg.marts_dir / "dim_users.parquet", columns=["user_id"])["user_id"]
    checks = [
        ("hgnn", "item", item_ids, cfg.hgnn.out_dim),
        ("two_tower", "item", item_ids, cfg.two_tower.dim),
        ("two_tower", "user", user_ids, cfg.two_tower.dim),
    ]
    results: dict[str, Any] = {}
    try:
        for model, entity, ids, dim in checks:
            path = export_path(cfg.embeddings_dir, model, version, entity)
            gate = run_embeddings_gate(
                path, entity=entity, expected_ids=ids.tolist(), dim=dim, unit_norm=True, cfg=cfg
            )
            results[f"{model}/{entity}"] = gate.to_dict()
    except GateFailedError as exc:
        results["failed"] = exc.summary
        raise
    finally:
        card.gates["embeddings"] = results


def evaluate(ctx: RunContext) -> Path:
    """The paper's protocol for every model; returns the report.json path."""
    from embedding_jobs.evaluate.run import evaluate_version

    cfg, card, version = ctx.cfg, ctx.card, ctx.version
    report_path = evaluate_version(cfg, version, train_missing=cfg.evaluate.train_companions)
    report = json.loads(report_path.read_text())
    # update, not replace: the setup choices recorded before training stay on the card
    card.metrics.update({"report": str(report_path), "headline": headline_metrics(report)})
    return report_path


def publish(ctx: RunContext) -> None:
    """Feast and Milvus data, then every pointer together (``pipeline.release.publish``)."""
    from pipeline.release import publish as publish_release

    cfg, card, version = ctx.cfg, ctx.card, ctx.version
    quality = card.gates.get("quality", {})
    why = f"gfm run: quality gate passed (HR@10 {quality.get('new')} vs live {quality.get('live')})"
    result = publish_release(cfg, version, why)
    card.feast["published"] = result["feast"]
    card.index = {
        "loaded": [_jsonable(r) for r in result["loaded"]],
        "previous_live": result["previous_live"],
        "uri": cfg.milvus_uri,
    }


def report(ctx: RunContext, report_path: Path | None) -> None:
    """Add the provenance card to the HTML report; print where every output is, and examples."""
    from pipeline.examples import print_examples
    from pipeline.provenance_html import attach_provenance

    cfg, card = ctx.cfg, ctx.card
    if report_path is not None and report_path.with_suffix(".html").exists():
        attach_provenance(report_path.with_suffix(".html"), _jsonable(card))
    print_examples(cfg, card.version)
    console.rule("[bold]outputs")
    rows = {
        "warehouse (DuckDB, for analysts)": cfg.warehouse_path,
        "marts (Parquet)": cfg.marts_dir,
        "Feast repo + online store": cfg.feast_dir,
        "checkpoints": cfg.models_dir,
        "embeddings": export_dir(cfg.embeddings_dir, "two_tower", card.version),
        "evaluation report": report_path.with_suffix(".html") if report_path else "-",
        "validation Data Docs": cfg.reports_dir / "validation",
        "provenance card": card_path(cfg, card.version),
        "Milvus": cfg.milvus_uri,
    }
    for name, path in rows.items():
        console.print(f"  {name:34s} {path}")


def _gate_summaries(cfg: Config, stages: tuple[str, ...]) -> dict[str, Any]:
    """The latest JSON summary of each gate (written by ``validation`` beside the Data Docs)."""
    out: dict[str, Any] = {}
    for stage in stages:
        path = cfg.reports_dir / "validation" / f"{stage}-latest.json"
        if path.exists():
            out[stage] = json.loads(path.read_text())
    return out


def _print_counts(title: str, counts: dict[str, int]) -> None:
    for name, n in counts.items():
        console.print(f"  {title}.{name:28s} {n:>12,d} rows")


def _jsonable(obj: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    return json.loads(json.dumps(obj, default=str))
