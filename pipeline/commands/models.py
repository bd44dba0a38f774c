"""CLI commands of the embedding jobs: ``gfm train text|hgnn`` and ``gfm embed``.

``train_app`` is the ``gfm train`` sub-app; another module adds ``gfm train two-tower`` to it with
``@train_app.command("two-tower")``. ``EMBEDDERS`` maps a model name to the function that
re-exports its vectors from a checkpoint; another module registers ``two_tower`` there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from gfm.config import Config
from gfm.errors import NotFoundError
from gfm.progress import console
from pipeline.commands._common import get_config, get_training_config, handle_errors

train_app = typer.Typer(
    help="Train the embedding models (text features, HGNN, two-tower).", no_args_is_help=True
)


def _export_hgnn(cfg: Config, version: str) -> list[Path]:
    from embedding_jobs.train_hgnn import export_hgnn

    return [export_hgnn(cfg, version)]


EMBEDDERS: dict[str, Callable[[Config, str], list[Path]]] = {"hgnn": _export_hgnn}
"""Model name -> re-export from the checkpoint of a version; returns the files written."""


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(train_app, name="train")
    app.command("embed")(embed_command)


@train_app.command("text")
@handle_errors
def train_text_command(ctx: typer.Context) -> None:
    """Embed item titles and descriptions with the local text encoder (cached by text hash)."""
    from embedding_jobs.text_features import build_text_features

    cfg = get_config(ctx)
    result = build_text_features(cfg)
    console.print(
        f"text features ({result.model_key}, {result.dim}-d): {result.n_items} items, "
        f"{result.n_embedded} embedded, {result.n_cached} from cache, {result.seconds:.1f} s"
    )
    console.print(f"  items: {result.path}")


@train_app.command("hgnn")
@handle_errors
def train_hgnn_command(
    ctx: typer.Context,
    version: str | None = typer.Option(None, "--version", help="Version id to write (default: a new one)."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Training epochs (default hgnn.epochs)."),
) -> None:
    """Train the heterogeneous GraphSAGE on the item graph and export a vector for every item."""
    from embedding_jobs.train_hgnn import train_hgnn
    from gfm.versioning import new_version

    cfg = get_training_config(ctx, hgnn={"epochs": epochs} if epochs is not None else {})
    result = train_hgnn(cfg, version or new_version("hgnn"))
    loss, check = result.metrics.get("final_loss"), result.metrics.get("heldout_item_hr@10") or {}
    console.print(
        f"hgnn {result.version} on {result.device}: {result.n_items} items, "
        f"final loss {_fmt(loss, 4)}, {result.seconds:.1f} s"
    )
    # the health check popularity cannot pass by itself (embedding_jobs/hgnn_check.py)
    console.print(
        f"  held-out pairs, item-to-item HR@10: HGNN {_fmt(check.get('HGNN'), 3)}, "
        f"Popularity {_fmt(check.get('Popularity'), 3)}, item-kNN {_fmt(check.get('item-kNN'), 3)}"
    )
    console.print(f"  checkpoint: {result.checkpoint_dir}")
    console.print(f"  items:      {result.items_path}")
    typer.echo(result.version)


def _fmt(value: object, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else "n/a"


@handle_errors
def embed_command(
    ctx: typer.Context,
    model: str = typer.Option("hgnn", "--model", help="Model whose checkpoint to export."),
    version: str | None = typer.Option(None, "--version", help="Checkpoint version (default: the latest)."),
) -> None:
    """Re-export the vectors of a trained version from its checkpoint and the current marts."""
    from gfm.versioning import latest_version

    cfg = get_training_config(ctx)
    key = model.replace("-", "_")
    if key not in EMBEDDERS:
        raise NotFoundError(f"unknown model {model!r}; known: {', '.join(sorted(EMBEDDERS))}")
    version = version or latest_version(cfg.models_dir / key)
    if version is None:
        raise NotFoundError(f"no {key} checkpoint under {cfg.models_dir / key}: train one first")
    for path in EMBEDDERS[key](cfg, version):
        console.print(f"{key} {version}: {path}")
