"""CLI command ``gfm drift A B``: how far a model's vectors moved between two versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gfm.progress import console
from pipeline.commands._common import get_config, handle_errors

LIVE = "live"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("drift")(drift_command)


@handle_errors
def drift_command(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="Reference version (or 'live').")],
    b: Annotated[str, typer.Argument(help="New version (or 'live').")],
    model: Annotated[str, typer.Option(help="two_tower (items and users) or hgnn (items).")] = "two_tower",
    k: Annotated[int, typer.Option(min=1, help="Neighbour-list and recommendation length.")] = 10,
    sample: Annotated[int, typer.Option(min=1, help="Shared items, and users, sampled.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the sample (same seed: same sample).")] = 0,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Where to write the JSON (default reports/drift/).")
    ] = None,
) -> None:
    """Compare two exported versions: overlap@k of item neighbour lists and of user top-k recommendations, share whose first neighbour/recommendation changed, centroid and norm shift; per content type.

    Overlap near 1 with a large centroid shift is a rotation: neighbours still hold, raw vectors do not.
    """
    import pandas as pd

    from embedding_jobs.evaluate.drift import compare_versions
    from gfm.errors import StageError
    from gfm.naming import MODELS
    from gfm.versioning import check_version

    cfg = get_config(ctx)
    if model not in MODELS:
        raise StageError(f"unknown model {model!r}: use {' or '.join(MODELS)}")
    a, b = (check_version(_resolve(cfg.data_dir, v)) for v in (a, b))
    dim_items = cfg.marts_dir / "dim_items.parquet"
    types = None
    if dim_items.exists():
        frame = pd.read_parquet(dim_items, columns=["item_id", "content_type"])
        types = frame.set_index("item_id")["content_type"]
    drift = compare_versions(
        cfg.embeddings_dir, a, b, model=model, item_types=types, k=k, sample=sample, seed=seed
    )
    out = json_path or cfg.reports_dir / "drift" / f"{model}_{a}_{b}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(drift, indent=2) + "\n", encoding="utf-8")
    _print(drift)
    console.print(f"written to {out}", highlight=False, soft_wrap=True)


def _resolve(data_dir: Path, version: str) -> str:
    if version != LIVE:
        return version
    from gfm.errors import NotFoundError
    from gfm.releases import read_record

    live = read_record(data_dir).live
    if live is None:
        raise NotFoundError(f"no live version in {data_dir}")
    return live


def _print(drift: dict[str, Any]) -> None:
    from rich.table import Table

    def cell(value: object) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    k = drift["k"]
    for entity, label in (("items", "item neighbours"), ("users", "user top-k recommendations")):
        section = drift.get(entity)
        if not section:
            continue
        table = Table(title=f"{drift['model']} {label}: {drift['a']} -> {drift['b']}", title_justify="left")
        for col in ("type", "sampled", f"overlap@{k}", "top-1 changed", "centroid shift", "norm shift"):
            table.add_column(col, justify="left" if col == "type" else "right")
        for name, fig in [("all", section), *section["by_type"].items()]:
            keys = ("n_sampled", "overlap_at_k", "top1_changed", "centroid_shift", "norm_shift")
            table.add_row(name, *(cell(fig[key]) for key in keys))
        console.print(table)
