"""CLI commands: ``gfm features apply | materialize | get | publish | versions`` (Feast).

Only light packages are imported here; feast is imported inside the commands (7-9 s).
"""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from gfm.errors import InvalidInputError
from gfm.progress import console, status
from pipeline.commands._common import get_config, handle_errors, parse_ids

app = typer.Typer(
    help="Feast feature store: register, materialize, read online values.", no_args_is_help=True
)

DEFAULT_VIEW = {"item": "item_stats", "user": "user_activity"}


@contextlib.contextmanager
def _quiet() -> Any:
    """Feast prints its own progress to stdout; keep stdout for results."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


@app.command("apply")
@handle_errors
def apply_cmd(
    ctx: typer.Context,
    version: Annotated[
        list[str] | None, typer.Option("--version", help="Only these published versions (repeatable).")
    ] = None,
) -> None:
    """Register entities, the mart feature views and the published embedding views/services."""
    from feature_repo.store import apply_definitions

    cfg = get_config(ctx)
    with status(f"Feast apply ({cfg.features.mode})"), _quiet():
        names = apply_definitions(cfg, versions=version or None)
    console.print(f"[green]applied[/] {len(names)} objects: {', '.join(names)}")


@app.command("materialize")
@handle_errors
def materialize_cmd(
    ctx: typer.Context,
    end: str | None = typer.Option(
        None, "--end", help="ISO-8601 end (UTC if naive); default: training window end."
    ),
    live: bool = typer.Option(False, "--live", help="Materialize up to now (a live run)."),
) -> None:
    """Materialize feature views incrementally into the online store."""
    from feature_repo.store import materialize

    if end and live:
        raise InvalidInputError("give --end or --live, not both", field="--end", value=end)
    when = datetime.now(UTC) if live else _parse_end(end)
    cfg = get_config(ctx)
    with status("Feast materialize"), _quiet():
        result = materialize(cfg, end=when)
    for name, (start, stop) in result.intervals.items():
        console.print(f"[green]{name}[/] {start:%Y-%m-%d %H:%M} -> {stop:%Y-%m-%d %H:%M}")
    if result.up_to_date:
        console.print(f"already up to date: {', '.join(result.up_to_date)}")
    console.print(f"materialized up to {result.end.isoformat()} in {result.seconds:.1f} s")


def _parse_end(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError("not an ISO-8601 timestamp", field="--end", value=text) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@app.command("get")
@handle_errors
def get_cmd(
    ctx: typer.Context,
    entity: str = typer.Option(..., "--entity", help="item or user."),
    ids: str = typer.Option(..., "--ids", help="Comma-separated ids, e.g. 1,2,3."),
    view: str | None = typer.Option(
        None, "--view", help="Feature view (default item_stats / user_activity)."
    ),
) -> None:
    """Print online feature values of one view as a table."""
    from rich.table import Table

    from feature_repo.client import EmbeddingClient

    cfg = get_config(ctx)
    view_name = view or DEFAULT_VIEW.get(entity, "")
    with status("Feast online read"):
        values = EmbeddingClient(cfg).get_features(entity, parse_ids(ids), view_name)
    table = Table(title=f"{view_name} (online)")
    for column in values:
        table.add_column(column, overflow="fold")
    for row in zip(*values.values(), strict=True):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "[dim]missing[/]"
    if not isinstance(value, str) and hasattr(value, "__len__") and len(value) > 4:
        return f"[{', '.join(f'{x:.3f}' for x in value[:3])}, … ({len(value)} dims)]"
    return str(value)


@app.command("publish")
@handle_errors
def publish_cmd(
    ctx: typer.Context,
    model: str = typer.Option(
        ..., "--model", help="hgnn, two_tower or text (for text, --version is the text model key)."
    ),
    version: str = typer.Option(..., "--version", help="The version whose export files to publish."),
) -> None:
    """Publish a version's exported vectors (embeddings/<model>/<version>/) to Feast.

    The version becomes current only while no release record has a live version; once `gfm run`
    has published, the pointer follows the record (`gfm rollback` moves it with Milvus).
    """
    from feature_repo.store import publish_export
    from gfm.releases import read_record

    cfg = get_config(ctx)
    managed = model != "text" and read_record(cfg.data_dir).live is not None
    with status(f"publishing {model} {version}"), _quiet():
        paths = publish_export(cfg, model, version, make_current=not managed)
    console.print(f"[green]published[/] {model} {version}: {', '.join(p.name for p in paths)}")
    if managed:
        console.print("  not made current: the release record decides (see `gfm versions`, `gfm rollback`)")


@app.command("versions")
@handle_errors
def versions_cmd(ctx: typer.Context) -> None:
    """List published embedding versions; the current one of each model is starred."""
    from feature_repo.store import read_catalog

    cat = read_catalog(get_config(ctx).feast_dir)
    if not cat.published:
        console.print("nothing published yet")
    for p in sorted(cat.published, key=lambda p: (p.model, p.version, p.entity)):
        star = "*" if cat.current.get(p.model) == p.version else " "
        typer.echo(f"{star} {p.model:<10} {p.entity:<5} {p.version}  dim={p.dim} rows={p.rows}")


def register(root: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    root.add_typer(app, name="features")
