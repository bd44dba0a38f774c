"""CLI command: ``gfm forget --user ID`` (or ``--users-file``): remove people from every store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gfm.errors import InvalidInputError, StageError
from pipeline.commands._common import get_config, handle_errors

if TYPE_CHECKING:
    from pipeline.forget import ForgetResult

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("forget")(forget)


@handle_errors
def forget(
    ctx: typer.Context,
    user: Annotated[
        list[str] | None, typer.Option("--user", help="A user id to forget (int64); repeatable.")
    ] = None,
    users_file: Annotated[
        Path | None,
        typer.Option(
            "--users-file", help="A file of user ids, one per line ('#' comments and blank lines skipped)."
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Remove users from raw logs, warehouse, marts, Feast, exports and Milvus, and keep them out.

    The users are tombstoned first: later raw batches and reruns drop them, and `gfm serve` answers
    404 for them at once. A user no store holds is not an error (zero rows, still tombstoned).
    Running it again is safe, and finishes a forget that was interrupted or had a failing step.
    """
    from gfm.progress import console
    from pipeline.forget import forget_users

    ids = [parse_user_id(text, "--user") for text in user or []]
    if users_file is not None:
        ids += read_users_file(users_file)
    if not ids:
        raise InvalidInputError("give at least one --user ID or a --users-file", field="--user")
    cfg = get_config(ctx)
    result = forget_users(cfg, ids, why=reason or "gfm forget")
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        _print_table(result)
    if result.errors:
        failed = ", ".join(s.store for s in result.errors)
        raise StageError(
            f"forget did not finish in: {failed}. The users are tombstoned; fix the cause above and "
            "run the same `gfm forget` again to finish."
        )
    if not as_json:
        console.print(
            f"forgot {len(result.users)} user(s); {len(result.newly_tombstoned)} newly tombstoned. "
            "Model weights trained before this are not retrained: the next `gfm run` trains without them.",
            highlight=False,
        )


def parse_user_id(text: str, where: str) -> int:
    """One user id (an int64 written in decimal), or a clear error naming where it came from.

    Raises:
        InvalidInputError: If ``text`` is not a whole number in the int64 range.

    """
    token = text.strip()
    try:
        value = int(token, 10)
    except ValueError:
        raise InvalidInputError("not an integer user id", field=where, value=token[:40]) from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidInputError("user id outside the int64 range", field=where, value=token[:40])
    return value


def read_users_file(path: Path) -> list[int]:
    """The ids of a users file: one per line; blank lines and ``#`` comments are skipped.

    Raises:
        InvalidInputError: The file is missing, unreadable, holds no id, or a line is not an id.

    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read it: {exc}", field="--users-file") from None
    ids = []
    for n, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            ids.append(parse_user_id(text, f"--users-file {path.name} line {n}"))
    if not ids:
        raise InvalidInputError("holds no user id", field="--users-file", value=str(path))
    return ids


def _print_table(result: ForgetResult) -> None:
    from rich.markup import escape
    from rich.table import Table

    from gfm.progress import console

    table = Table(title=f"gfm forget: {len(result.users)} user(s)")
    for col in ("store", "where", "rows removed"):
        table.add_column(col, overflow="fold")
    for store in result.stores:
        if store.error:
            table.add_row(store.store, f"[red]failed:[/] {escape(store.error)}", "-")
            continue
        if not store.rows:
            table.add_row(store.store, "(nothing here)", "0")
        for i, (where, rows) in enumerate(store.rows.items()):
            table.add_row(store.store if i == 0 else "", escape(where), f"{rows:,d}")
    table.add_row("service caches", "answer 404 for tombstoned users from the next request", "-")
    console.print(table)
