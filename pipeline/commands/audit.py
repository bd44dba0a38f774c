"""CLI command: ``gfm audit`` prints who published, rolled back or removed what, when and why."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pipeline.commands._common import get_config, handle_errors


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("audit")(audit)


@handle_errors
def audit(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    last: Annotated[int, typer.Option("--last", min=0, help="Only the last N entries (0: all).")] = 0,
) -> None:
    """Print the audit log of the data dir, oldest first."""
    from rich.table import Table

    from gfm.progress import console
    from pipeline.audit import read_audit

    cfg = get_config(ctx)
    entries = read_audit(cfg.data_dir)
    if last:
        entries = entries[-last:]
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(entry, sort_keys=True))
        return
    table = Table(title=f"audit log of {cfg.data_dir}")
    for col in ("when (UTC)", "who", "action", "what", "why"):
        table.add_column(col, overflow="fold")
    for e in entries:
        what = e.get("what")
        table.add_row(
            str(e.get("at", ""))[:19],
            str(e.get("actor", "")),
            str(e.get("action", "")),
            what if isinstance(what, str) else json.dumps(what, sort_keys=True),
            str(e.get("why", "")),
        )
    console.print(table)
