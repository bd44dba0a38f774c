"""CLI commands: ``gfm run`` (the whole pipeline), ``gfm versions`` and ``gfm rollback``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands._common import get_config, handle_errors


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("run")(run)
    app.command("versions")(versions)
    app.command("rollback")(rollback)


@handle_errors
def run(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Option(
            help="synthetic (generate from the config's seed), movielens, lightgcn, or existing (raw/ as is)."
        ),
    ] = "synthetic",
    path: Annotated[Path | None, typer.Option(help="Dataset folder for movielens/lightgcn.")] = None,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Accept a batch whose events or items shrink by more than validation.max_shrink "
            "against the live warehouse (refused by default).",
        ),
    ] = False,
) -> None:
    """Run the whole pipeline for one new version.

    raw -> dbt -> gates -> Feast -> text -> HGNN -> two-tower -> embedding gate -> evaluation ->
    quality gate -> publish (Feast + Milvus) -> report. A failed gate stops the run, leaves the previous version live, and says why.
    """
    from pipeline.run import run_pipeline

    cfg = get_config(ctx)
    if allow_shrink:
        cfg = cfg.model_copy(update={"validation": cfg.validation.model_copy(update={"allow_shrink": True})})
    result = run_pipeline(cfg, source=source, source_path=path)  # type: ignore[arg-type]
    typer.echo(f"version {result.version}: {result.status}; provenance card {result.card_path}")


@handle_errors
def versions(ctx: typer.Context) -> None:
    """List every version: its status, headline HR@10, and which aliases are live."""
    from rich.table import Table

    from gfm.progress import console
    from pipeline.provenance import read_cards

    cfg = get_config(ctx)
    table = Table(title=f"versions in {cfg.data_dir}")
    for col in ("version", "source", "status", "2T-HGNN HR@10", "reason"):
        table.add_column(col)
    for card in read_cards(cfg):
        hr = card.get("metrics", {}).get("headline", {}).get("mean")
        table.add_row(
            card["version"],
            card.get("source", ""),
            card.get("status", ""),
            f"{hr:.4f}" if isinstance(hr, float) else "-",
            (card.get("reason") or "")[:60],
        )
    console.print(table)
    if cfg.index.uri or (cfg.data_dir / "milvus").exists():
        from vector_index.ops import list_versions

        live = [v for v in list_versions(cfg) if v.get("live")]
        for info in live:
            console.print(f"live: {info.get('entity')}_{info.get('model')} -> {info.get('version')}")


@handle_errors
def rollback(
    ctx: typer.Context,
    alias: Annotated[str, typer.Argument(help="entity/model, e.g. item/two_tower (or item_two_tower).")],
    version: Annotated[str, typer.Argument(help="The version to make live again.")],
) -> None:
    """Re-point a live Milvus alias at an earlier, complete version."""
    from vector_index.ops import rollback as do_rollback

    cfg = get_config(ctx)
    previous = do_rollback(cfg, alias, version)
    typer.echo(f"{alias}: {previous} -> {version}")
