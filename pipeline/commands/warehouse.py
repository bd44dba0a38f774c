"""CLI commands of the warehouse stage: ``gfm transform`` and ``gfm docs`` (dbt over DuckDB)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from gfm.progress import console
from pipeline.commands._common import get_config, handle_errors

if TYPE_CHECKING:
    from warehouse import TransformResult


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("transform")(transform_command)
    app.command("docs")(docs_command)


@handle_errors
def transform_command(
    ctx: typer.Context,
    docs: Annotated[bool, typer.Option("--docs", help="Also generate the dbt docs site afterwards.")] = False,
    allow_shrink: Annotated[
        bool,
        typer.Option(
            "--allow-shrink",
            help="Accept a batch whose events or items shrink by more than validation.max_shrink "
            "against the live warehouse (refused by default: a truncated export looks like that).",
        ),
    ] = False,
) -> None:
    """Build the marts with dbt over DuckDB: raw gate -> dbt build (models + tests) -> marts gate -> promote.

    Reads raw/ (from `gfm generate` or `gfm import`) and, only when every check passes, replaces
    warehouse/gfm.duckdb (open it with duckdb to query the marts), warehouse/landing/ and
    marts/*.parquet. A failure anywhere leaves the previous warehouse and marts untouched; so does a
    batch whose events or items shrink by more than validation.max_shrink, unless --allow-shrink.
    """
    from warehouse import dbt_docs, run_transform

    cfg = get_config(ctx)
    if allow_shrink:
        cfg = cfg.model_copy(update={"validation": cfg.validation.model_copy(update={"allow_shrink": True})})
    result = run_transform(cfg)
    print_result(result)
    if docs:
        console.print(f"dbt docs: [bold]{dbt_docs(cfg)}[/]", highlight=False)


@handle_errors
def docs_command(
    ctx: typer.Context,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Serve the dbt docs, the Data Docs and the newest evaluation report on one local port "
            "(generating the dbt docs if missing or older than the warehouse); Ctrl-C stops it.",
        ),
    ] = False,
    port: Annotated[int, typer.Option("--port", help="With --serve: the port (default: any free one).")] = 0,
    host: Annotated[
        str, typer.Option("--host", help="With --serve: bind address (loopback unless you mean to share).")
    ] = "127.0.0.1",
) -> None:
    """Generate the dbt docs site (lineage, columns, tests) of the current warehouse; print its path.

    With --serve, also serve every page of the data directory for a browser, with nothing loaded
    from outside the machine: the dbt docs, the Great Expectations Data Docs and the newest
    evaluation report, each at its own URL.
    """
    from warehouse import dbt_docs

    cfg = get_config(ctx)
    if not serve:
        index = dbt_docs(cfg)
        console.print(f"dbt docs: [bold]{index}[/]  (or `gfm docs --serve`)", highlight=False)
        return
    from gfm.errors import StageError
    from pipeline.docs_server import DocsServer, dbt_docs_stale

    if dbt_docs_stale(cfg.reports_dir, cfg.warehouse_path):
        try:
            dbt_docs(cfg)
        except StageError as exc:  # no warehouse yet: serve the other pages
            console.print(f"[yellow]dbt docs not generated:[/] {exc}", highlight=False)
    server = DocsServer(cfg.reports_dir, host=host, port=port)
    console.print("\n".join(server.describe()), highlight=False, soft_wrap=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped", highlight=False)
    finally:
        server.close()


def print_result(result: TransformResult) -> None:
    """Print the marts' row counts, the split and where the warehouse and Parquet marts are."""
    from rich.table import Table

    table = Table(title="marts (validated and promoted)")
    table.add_column("mart")
    table.add_column("rows", justify="right")
    for mart, rows in result.row_counts.items():
        table.add_row(mart, f"{rows:,}")
    console.print(table)
    split = result.split
    console.print(
        f"train [{split.train_start:%Y-%m-%d %H:%M}, {split.train_end:%Y-%m-%d %H:%M}) "
        f"eval [{split.train_end:%Y-%m-%d %H:%M}, {split.eval_end:%Y-%m-%d %H:%M}) UTC ({split.source}); "
        f"content types: {', '.join(result.content_types)}; {result.n_dbt_tests} dbt tests passed",
        highlight=False,
    )
    console.print(f"DuckDB warehouse: [bold]{result.warehouse_path}[/]", highlight=False)
    console.print(f"Parquet marts:    [bold]{result.marts_dir}[/]", highlight=False)
