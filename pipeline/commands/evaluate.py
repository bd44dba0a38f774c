"""CLI commands: ``gfm train two-tower`` and ``gfm evaluate``."""

from __future__ import annotations

from pathlib import Path

import typer

from gfm.config import Config
from gfm.errors import NotFoundError
from gfm.progress import console
from pipeline.commands._common import get_training_config, handle_errors
from pipeline.commands.models import EMBEDDERS, train_app


def _export_two_tower(cfg: Config, version: str) -> list[Path]:
    from embedding_jobs.train_two_tower import export_two_tower

    return export_two_tower(cfg, version)


EMBEDDERS["two_tower"] = _export_two_tower


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app (``train two-tower`` joins ``gfm train``)."""
    app.command("evaluate")(evaluate_command)


@train_app.command("two-tower")
@handle_errors
def train_two_tower_command(
    ctx: typer.Context,
    version: str | None = typer.Option(None, "--version", help="Version id to write (default: a new one)."),
    hgnn_version: str | None = typer.Option(
        None, "--hgnn-version", help="HGNN export used as shared input (default: the latest)."
    ),
    no_hgnn: bool = typer.Option(False, "--no-hgnn", help="Train the '2T' baseline: no HGNN inputs."),
    epochs: int | None = typer.Option(
        None, "--epochs", min=1, help="Training epochs (default two_tower.epochs)."
    ),
) -> None:
    """Train the two-tower model on Feast point-in-time features; export every user and item."""
    from embedding_jobs.train_two_tower import train_two_tower
    from gfm.versioning import new_version

    update: dict[str, object] = {"use_hgnn": False} if no_hgnn else {}
    if epochs is not None:
        update["epochs"] = epochs
    cfg = get_training_config(ctx, two_tower=update)
    result = train_two_tower(cfg, version or new_version("two_tower"), hgnn_version)
    console.print(
        f"two-tower {result.version} (HGNN input: {result.hgnn_version or 'none'}): "
        f"{result.metrics['n_examples']} examples, final loss {result.metrics['final_loss']:.4f}, "
        f"{result.metrics['examples_per_s']:.0f} examples/s"
    )
    console.print(f"  checkpoint: {result.checkpoint}")
    console.print(f"  items:      {result.items_path}")
    console.print(f"  users:      {result.users_path}")
    typer.echo(result.version)


@handle_errors
def evaluate_command(
    ctx: typer.Context,
    version: str | None = typer.Option(None, "--version", help="2T-HGNN version (default: the latest)."),
    hgnn_version: str | None = typer.Option(
        None, "--hgnn-version", help="Default: the one it was trained on."
    ),
    baseline_version: str | None = typer.Option(None, "--baseline-version", help="An existing '2T' version."),
    ablation_version: str | None = typer.Option(
        None,
        "--ablation-version",
        help="An existing 2T-HGNN trained on an HGNN with the other relation sampler (hgnn.balanced_sampler flipped).",
    ),
    train_missing: bool = typer.Option(
        True, "--train-missing/--no-train-missing", help="Train the 2T baseline and the ablation if absent."
    ),
) -> None:
    """Seed protocol: HR@10, MRR, coverage@100 per type, warm/cold and popularity tier, every model.

    Writes report.json and report.html under <data-dir>/reports/eval/<version>/ and prints the
    report.json path.
    """
    from embedding_jobs.evaluate.run import evaluate_version
    from gfm.versioning import latest_version

    cfg = get_training_config(ctx)
    version = version or latest_version(cfg.models_dir / "two_tower")
    if version is None:
        raise NotFoundError(f"no two-tower checkpoint under {cfg.models_dir / 'two_tower'}: train one first")
    path = evaluate_version(
        cfg,
        version,
        hgnn_version=hgnn_version,
        baseline_version=baseline_version,
        ablation_version=ablation_version,
        train_missing=train_missing,
    )
    typer.echo(str(path))
