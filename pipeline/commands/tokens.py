"""CLI commands: ``gfm tokens create | list | revoke``: access tokens for the search service.

Each change is appended to the audit log (``pipeline.audit``) with the token's id and team,
never the token.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gfm.progress import console
from pipeline.commands._common import echo_json, get_config, handle_errors

tokens_app = typer.Typer(
    help=(
        "Access tokens for `gfm serve`: one per team, with scopes search, recommend or admin. "
        "Once a token exists, the service requires one on every endpoint but /healthz."
    ),
    no_args_is_help=True,
)


@tokens_app.command("create")
@handle_errors
def create(
    ctx: typer.Context,
    team: Annotated[str, typer.Option("--team", help="The team the token is issued to.")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="search (item search), recommend (user recommendations) or admin (everything); repeatable.",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")] = "",
) -> None:
    """Issue a token and print it once: it is stored only as a keyed hash and cannot be shown again."""
    from pipeline.audit import append_audit
    from vector_index.tokens import TokenStore

    cfg = get_config(ctx)
    record, token = TokenStore(cfg.data_dir).create(team, scope)
    append_audit(
        cfg.data_dir,
        None,
        "token",
        {"op": "create", "token_id": record.token_id, "team": record.team, "scopes": list(record.scopes)},
        reason,
    )
    console.print(
        f"token [cyan]{record.token_id}[/] for team [cyan]{record.team}[/] "
        f"(scopes: {', '.join(record.scopes)}). Copy it now; it is not shown again:",
        highlight=False,
    )
    typer.echo(token)  # plain stdout, so `TOKEN=$(gfm tokens create ... | tail -1)` works


@tokens_app.command("list")
@handle_errors
def list_tokens(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
) -> None:
    """List tokens: id, team, scopes, created and revoked times (never the token or its hash)."""
    from vector_index.tokens import TokenStore

    records = TokenStore(get_config(ctx).data_dir).records(include_revoked=all_)
    echo_json([r.public() for r in records])


@tokens_app.command("revoke")
@handle_errors
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(help="The token id (from `gfm tokens list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")] = "",
) -> None:
    """Revoke a token; a running service refuses it from its next request on."""
    from pipeline.audit import append_audit
    from vector_index.tokens import TokenStore

    cfg = get_config(ctx)
    record = TokenStore(cfg.data_dir).revoke(token_id)
    append_audit(
        cfg.data_dir,
        None,
        "token",
        {"op": "revoke", "token_id": record.token_id, "team": record.team},
        reason,
    )
    console.print(f"token {record.token_id} of team {record.team} revoked at {record.revoked_at}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(tokens_app, name="tokens")
