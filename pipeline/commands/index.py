"""CLI commands: ``gfm index load | search | versions | publish`` and ``gfm serve``.

pymilvus, numpy and FastAPI are imported inside the commands, so ``gfm --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import typer

from gfm.config import Config
from gfm.errors import GfmError, StageError
from gfm.progress import console, make_progress
from pipeline.commands._common import echo_json, get_config, handle_errors

index_app = typer.Typer(
    help="Milvus vector index: load versions, search, list and publish.", no_args_is_help=True
)


@index_app.command("load")
@handle_errors
def load(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="two_tower or hgnn."),
    version: str = typer.Option(..., "--version", help="Version id of the exported vectors."),
    entity: str = typer.Option("both", "--entity", help="item, user or both."),
    live: bool = typer.Option(False, "--live", help="Point the alias at this version after loading."),
) -> None:
    """Load a version's exported vectors into its own collection (idempotent)."""
    from vector_index import ops

    cfg = get_config(ctx)
    entities = ("item", "user") if entity == "both" else (entity,)
    with make_progress() as progress:
        tasks: dict[str, object] = {}

        def on_batch(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(f"load {name}s", total=total)
            progress.update(tasks[name], completed=done)  # type: ignore[arg-type]

        results = ops.index_version(cfg, model, version, entities=entities, on_batch=on_batch)
    for r in results:
        what = "already complete" if r.skipped else ("rebuilt" if r.rebuilt else "loaded")
        console.print(f"{r.collection}: {r.rows} rows, {r.index_type}, {what} ({r.seconds:.1f} s)")
    if live:
        _refuse_when_recorded(cfg)
        previous = ops.publish_version(cfg, model, version, entities=entities)
        for alias, old in previous.items():
            console.print(f"alias [cyan]{alias}[/] -> {version} (was {old})")
    console.print(f"Milvus: {cfg.milvus_uri}")


def _refuse_when_recorded(cfg: Config) -> None:
    """Aliases move by hand only while no release record decides what is live."""
    from gfm.releases import read_record

    live = read_record(cfg.data_dir).live
    if live is not None:
        raise StageError(
            f"the release record decides what is live (now {live}): use `gfm rollback <version>`, "
            "which moves Feast and every Milvus alias together"
        )


@index_app.command("publish")
@handle_errors
def publish(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", help="two_tower or hgnn."),
    version: str = typer.Option(..., "--version", help="A loaded, complete version."),
    entity: str = typer.Option("both", "--entity", help="item, user or both."),
) -> None:
    """Point the (entity, model) aliases at a loaded version (rollback = publish an older one)."""
    from vector_index import ops

    entities = ("item", "user") if entity == "both" else (entity,)
    cfg = get_config(ctx)
    _refuse_when_recorded(cfg)
    for alias, old in ops.publish_version(cfg, model, version, entities=entities).items():
        console.print(f"alias [cyan]{alias}[/] -> {version} (was {old})")


@index_app.command("versions")
@handle_errors
def versions(ctx: typer.Context) -> None:
    """List loaded versions: rows, completeness, which one is live."""
    from vector_index import ops

    echo_json(ops.list_versions(get_config(ctx)))


@index_app.command("search")
@handle_errors
def search(
    ctx: typer.Context,
    item_id: int | None = typer.Option(None, "--item-id", help="Items similar to this item."),
    user_id: int | None = typer.Option(None, "--user-id", help="Recommendations for this user."),
    text: str | None = typer.Option(
        None, "--text", help="Items matching free text (the live HGNN's text-only path)."
    ),
    content_type: str | None = typer.Option(None, "--type", help="Keep one content type."),
    k: int = typer.Option(10, "-k", min=1, help="Number of results."),
    model: str | None = typer.Option(
        None, "--model", help="two_tower or hgnn (default two_tower; --text searches hgnn)."
    ),
) -> None:
    """Search the live version (users: their vector from the user collection, consumed items excluded)."""
    from vector_index import ops
    from vector_index.search import VectorSearcher
    from vector_index.text_search import TextSearcher
    from vector_index.users import ConsumedItems

    if sum(x is not None for x in (item_id, user_id, text)) != 1:
        raise typer.BadParameter("give exactly one of --item-id, --user-id or --text")
    cfg = get_config(ctx)
    if k > cfg.serve.max_k:
        raise GfmError(f"k must be <= serve.max_k ({cfg.serve.max_k}), got {k}")
    client = ops.client_for(cfg)
    if text is not None:
        if model not in (None, "hgnn"):
            raise typer.BadParameter("--text searches the hgnn item space only (no --model two_tower)")
        searcher = TextSearcher(client, cfg)
        version, found = searcher.search(text, k, content_type=content_type)
        echo_json({"alias": searcher.items.alias, "version": version, "results": [h.__dict__ for h in found]})
        return
    model = model or "two_tower"
    items = VectorSearcher(client, cfg.index, "item", model)
    if item_id is not None:
        hits = items.search(items.get_vector(item_id), k, content_type=content_type, exclude_ids=[item_id])
    else:
        assert user_id is not None
        vector = VectorSearcher(client, cfg.index, "user", model).get_vector(user_id)
        consumed = ConsumedItems.from_marts(cfg.marts_dir).get(user_id)
        hits = items.search(vector, k, content_type=content_type, exclude_ids=consumed)
    echo_json(
        {"alias": items.alias, "version": items.info().version, "results": [h.__dict__ for h in hits[0]]}
    )


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Bind address (default serve.host, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default serve.port, 8000)."),
) -> None:
    """Run the HTTP search service (OpenAPI docs at /docs). It owns the Milvus Lite file.

    Tokens (`gfm tokens create`) are required whenever one exists; a non-loopback --host is
    refused until one does.
    """
    import uvicorn

    from vector_index.auth import check_bind
    from vector_index.client import close_clients
    from vector_index.service import create_app
    from vector_index.tokens import TokenStore

    cfg = get_config(ctx)
    bind_host, bind_port = host or cfg.serve.host, port or cfg.serve.port
    store = TokenStore(cfg.data_dir)
    public = check_bind(bind_host, store)
    access = "required" if public or store.any_active() else "open (no token exists; loopback only)"
    console.print(f"gfm serve on http://{bind_host}:{bind_port} (docs: /docs), Milvus {cfg.milvus_uri}")
    console.print(f"access: bearer tokens {access}")
    try:
        uvicorn.run(
            create_app(cfg, public=public),
            host=bind_host,
            port=bind_port,
            log_level="info",
            log_config=serve_log_config(),
        )
    finally:
        close_clients()


def serve_log_config() -> dict[str, Any]:
    """The uvicorn logging config plus the service's own loggers (start-up, per-token counts) at INFO."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["vector_index"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(index_app, name="index")
    app.command("serve")(handle_errors(serve))
