"""CLI command ``gfm validate``: run one Great Expectations gate and show what it found."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gfm.progress import console, status
from pipeline.commands._common import get_config, handle_errors

if TYPE_CHECKING:
    from gfm.config import Config
    from validation.results import GateResult


class Stage(StrEnum):
    """The stages that have a gate."""

    raw = "raw"
    marts = "marts"
    embeddings = "embeddings"


class Model(StrEnum):
    """Embedding models with exported vectors."""

    hgnn = "hgnn"
    two_tower = "two_tower"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("validate")(validate)


@handle_errors
def validate(
    ctx: typer.Context,
    stage: Annotated[
        Stage, typer.Option("--stage", help="raw: the raw logs; marts: the dbt build; embeddings: an export.")
    ],
    version: Annotated[
        str | None, typer.Option("--version", help="Embeddings version (default: newest).")
    ] = None,
    model: Annotated[Model, typer.Option("--model", help="Embeddings model.")] = Model.two_tower,
    unit_norm: Annotated[
        bool, typer.Option("--unit-norm/--no-unit-norm", help="Expect L2-normalised vectors.")
    ] = True,
) -> None:
    """Validate a stage's output with its Great Expectations gate.

    raw checks the raw logs (schema, nulls, duplicates, unknown ids, window, ms_played);
    marts checks the freshly built warehouse (self-loops, edge endpoints, split overlap, counts);
    embeddings checks embeddings/<model>/<version>/items.parquet (dimension, NaN/Inf, norm, ids).
    Prints one row per expectation and the HTML Data Docs path; exits with status 2 on failure.
    """
    from validation.results import GateFailed

    cfg = get_config(ctx)
    try:
        with status(f"validating {stage.value} (Great Expectations)"):
            result = _run(stage, cfg, version=version, model=model, unit_norm=unit_norm)
    except GateFailed as exc:
        _print_table(exc.result)
        raise
    _print_table(result)


def _run(stage: Stage, cfg: Config, *, version: str | None, model: Model, unit_norm: bool) -> GateResult:
    from validation import gates

    if stage is Stage.raw:
        from ingest.manifest import read_manifest
        from ingest.raw_io import load_raw

        tables = load_raw(cfg.raw_dir, cfg.validation)
        return gates.run_raw_gate(tables, read_manifest(cfg.raw_dir), cfg)
    if stage is Stage.marts:
        build = cfg.warehouse_path.parent / "build.duckdb"
        return gates.run_marts_gate(cfg.warehouse_path if cfg.warehouse_path.is_file() else build, cfg)
    path = _export_path(cfg, model.value, version)
    dim = cfg.hgnn.out_dim if model is Model.hgnn else cfg.two_tower.dim
    return gates.run_embeddings_gate(
        path, entity="item", expected_ids=_catalogue_ids(cfg), dim=dim, unit_norm=unit_norm, cfg=cfg
    )


def _export_path(cfg: Config, model: str, version: str | None) -> Path:
    from gfm.errors import NotFoundError
    from gfm.naming import export_path
    from gfm.versioning import latest_version

    folder = cfg.embeddings_dir / model
    version = version or latest_version(folder)
    if version is None:
        raise NotFoundError(f"no exported {model} version under {folder}")
    path = export_path(cfg.embeddings_dir, model, version, "item")
    if not path.is_file():
        raise NotFoundError(f"no export for {model} version {version!r}: {path} does not exist")
    return path


def _catalogue_ids(cfg: Config) -> list[int] | None:
    """Every catalogue item id, from the validated marts' ``dim_items`` export (None if absent)."""
    path = cfg.marts_dir / "dim_items.parquet"
    if not path.is_file():
        console.print(f"[yellow]no {path}: skipping the every-item-has-a-vector check[/]")
        return None
    import pyarrow.parquet as pq

    return [int(v) for v in pq.read_table(path, columns=["item_id"]).column("item_id").to_pylist()]


def _print_table(result: GateResult) -> None:
    from rich.table import Table

    table = Table(
        title=f"{result.stage} gate: {'passed' if result.success else 'FAILED'}", title_justify="left"
    )
    for header in ("table", "column", "expectation", "result", "unexpected", "examples"):
        table.add_column(header, overflow="fold")
    for outcome in result.expectations:
        mark = "[green]pass[/]" if outcome.success else "[bold red]FAIL[/]"
        count = "" if outcome.unexpected_count is None else str(outcome.unexpected_count)
        examples = "" if outcome.success else (outcome.error or ", ".join(outcome.examples))
        table.add_row(outcome.table, outcome.column or "", outcome.description, mark, count, examples)
    console.print(table)
    console.print(f"Data Docs: {result.docs_path}", highlight=False)
    console.print(f"Summary:   {result.summary_path} ({result.elapsed_s:.1f} s)", highlight=False)
