"""The ``gfm`` command: one sub-command per pipeline stage.

Heavy libraries (torch, feast, great_expectations, pymilvus) are imported inside the commands
that need them, so ``gfm --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.commands import (
    audit,
    data,
    drift,
    evaluate,
    features,
    forget,
    index,
    models,
    run,
    tokens,
    validate,
    warehouse,
)
from pipeline.commands._common import CliState

app = typer.Typer(
    name="gfm",
    help=(
        "Graph foundation models for personalization.\n\n"
        "Stages, in pipeline order: generate/import -> transform (dbt) -> validate (GX) -> "
        "features (Feast) -> train (text, HGNN, two-tower) -> embed -> evaluate -> index (Milvus) "
        "-> serve. `gfm run` chains them all. Every output lives under the data directory "
        "(default ./.gfm, or --data-dir, or GFM_DATA_DIR)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Where every output lives (default ./.gfm; env GFM_DATA_DIR)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="YAML config file (env GFM_CONFIG); GFM__SECTION__FIELD env vars override it."
        ),
    ] = None,
) -> None:
    """Graph foundation models for personalization."""
    ctx.obj = CliState(config_path=config, data_dir=data_dir)


for module in (data, warehouse, validate, features, models, evaluate, drift, index, tokens, run, audit):
    module.register(app)
forget.register(app)  # gfm forget: remove people from every store (pipeline.forget)


if __name__ == "__main__":  # pragma: no cover
    app()
