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
) -> None:
    """Build the marts with dbt over DuckDB: raw gate -> dbt build (models + tests) -> marts gate -> promote.

    Reads raw/ (from `gfm generate` or `gfm import`) and, only when every check passes, replaces
    warehouse/gfm.duckdb (open it with duckdb to query the marts) and marts/*.parquet. A failure
    anywhere leaves the previous warehouse and marts untouched.
    """
    from warehouse import dbt_docs, run_transform

    cfg = get_config(ctx)
    result = run_transform(cfg)
    print_result(result)
    if docs:
        console.print(f"dbt docs: [bold]{dbt_docs(cfg)}[/]", highlight=False)


@handle_errors
def docs_command(ctx: typer.Context) -> None:
    """Generate the dbt docs site (lineage, columns, tests) of the current warehouse; print its path."""
    from warehouse import dbt_docs

    index = dbt_docs(get_config(ctx))
    console.print(
        f"dbt docs: [bold]{index}[/]  (serve its folder, e.g. python -m http.server)", highlight=False
    )


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
