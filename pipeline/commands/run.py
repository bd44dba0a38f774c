"""CLI commands: ``gfm run`` (the whole pipeline), ``gfm versions``, ``gfm rollback`` and ``gfm gc``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.commands._common import get_config, handle_errors


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("run")(run)
    app.command("versions")(versions)
    app.command("rollback")(rollback)
    app.command("gc")(gc)


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
def versions(
    ctx: typer.Context,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare",
            metavar="A B",
            help="Instead of the list, how far B's vectors moved from A's (as `gfm drift A B`; 'live' allowed).",
        ),
    ] = None,
) -> None:
    """List every version: its status from the release record, headline HR@10, and what is live."""
    if compare is not None:
        from pipeline.commands.drift import drift_command

        drift_command(ctx, compare[0], compare[1])
        return
    from rich.table import Table

    from gfm.progress import console
    from gfm.releases import read_record
    from pipeline.provenance import read_cards

    cfg = get_config(ctx)
    record = read_record(cfg.data_dir)
    cards = {c["version"]: c for c in read_cards(cfg)}
    table = Table(title=f"versions in {cfg.data_dir}")
    for col in ("version", "source", "status", "2T-HGNN HR@10", "reason"):
        table.add_column(col)
    for version in sorted({*cards, *record.releases}):
        card = cards.get(version, {})
        release = record.releases.get(version)
        # the record decides; a card without a release is from before the record existed
        state = release.status if release else f"{card.get('status', '')} (card)"
        if version == record.live:
            state = f"[bold green]{state} (live)[/]"
        hr = card.get("metrics", {}).get("headline", {}).get("mean")
        reason = (release.reason if release and release.reason else card.get("reason")) or ""
        table.add_row(
            version,
            escape(str(card.get("source", ""))),
            state,
            f"{hr:.4f}" if isinstance(hr, float) else "-",
            escape(reason[:60]),
        )
    console.print(table)
    console.print(f"live: {record.live or 'none'}")
    if record.pending is not None:
        p = record.pending
        console.print(
            f"[yellow]unfinished {p.action} to {p.target} (from {p.previous}); "
            "`gfm gc` repairs it if its process is gone[/]"
        )


@handle_errors
def rollback(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="The version to make live again (see `gfm versions`).")],
    extra: Annotated[str | None, typer.Argument(hidden=True)] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit log.")] = "",
) -> None:
    """Make an earlier published version live again in every store (Feast and all Milvus aliases).

    Refuses, changing nothing, when any store no longer holds the whole version.
    """
    from gfm.errors import InvalidInputError
    from pipeline.release import rollback as do_rollback

    if extra is not None:
        raise InvalidInputError(
            "every store moves together now: give only the version, e.g. `gfm rollback <version>`",
            field="alias",
            value=version,
        )
    cfg = get_config(ctx)
    previous = do_rollback(cfg, version, why=reason or "gfm rollback")
    typer.echo(f"live: {previous} -> {version} (Feast pointer, item_/user_embeddings, every Milvus alias)")


@handle_errors
def gc(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit log.")] = "",
) -> None:
    """Fail dead runs, repair an interrupted publish, and remove failed versions' leftovers.

    Removes the Milvus collections, Feast views/files and exports of failed versions; never
    those of a published, retired or rolled-back version, nor of a run still in progress.
    """
    from gfm.progress import console
    from pipeline.release import gc as do_gc

    cfg = get_config(ctx)
    result = do_gc(cfg, why=reason or "gfm gc")
    for version in result["failed"]:
        console.print(f"marked failed: {version} (its process is gone)")
    for version, gone in result["removed"].items():
        console.print(f"removed {version}: {len(gone)} objects")
        for name in gone:
            console.print(f"  {name}")
    if not result["failed"] and not result["removed"]:
        console.print("nothing to remove")
