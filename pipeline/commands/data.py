"""CLI commands of the data stage: ``gfm generate`` and ``gfm import``.

Both write ``raw/`` (the raw log contract) under the data directory, replacing it atomically.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gfm.progress import console
from pipeline.commands._common import get_config, handle_errors

DEFAULT_PATHS = {
    "movielens": Path("../shared/data/movielens_ml_latest_small"),
    "lightgcn": Path("../shared/data/yelp2018_lightgcn"),
}


class Tastes(StrEnum):
    """What drives users' choices in ``gfm generate``."""

    topics = "topics"
    communities = "communities"


class Source(StrEnum):
    """Real datasets ``gfm import`` can map into the raw contract."""

    movielens = "movielens"
    lightgcn = "lightgcn"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("generate")(generate_command)
    app.command("import")(import_command)


@handle_errors
def generate_command(
    ctx: typer.Context,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed and sizes: same bytes).")] = None,
    users: Annotated[int | None, typer.Option(help="Number of users (default 4000; paper: 10M).")] = None,
    podcasts: Annotated[
        int | None, typer.Option(help="Number of podcasts (default 2500; paper: 3.5M).")
    ] = None,
    audiobooks: Annotated[
        int | None, typer.Option(help="Number of audiobooks (default 1200; paper: 250K).")
    ] = None,
    days: Annotated[int | None, typer.Option(help="Length of the window in days (default 104).")] = None,
    tastes: Annotated[
        Tastes | None,
        typer.Option(
            help="topics (default: text carries taste) or communities (taste spans types, text says little)."
        ),
    ] = None,
    communities: Annotated[
        int | None, typer.Option(help="communities mode: number of taste communities (default 24).")
    ] = None,
    content_types: Annotated[
        int | None,
        typer.Option(help="communities mode: podcast, audiobook, audio_course: first N (default 3)."),
    ] = None,
    audio_courses: Annotated[
        int | None, typer.Option(help="communities mode: number of audio courses (default 400).")
    ] = None,
    text_signal: Annotated[
        float | None,
        typer.Option(
            help="communities mode: share of topic words and genres naming the community (0-1, default 0.3)."
        ),
    ] = None,
) -> None:
    """Generate a synthetic audio-streaming platform (podcasts + audiobooks [+ audio courses]) into raw/.

    topics (default): latent topics drive titles and descriptions, users have sparse topic tastes, popularity is heavy-tailed, weak signals precede streams, and new users and items keep arriving.

    communities: users follow taste communities that span every content type; titles, descriptions and genres name the community only weakly (--text-signal), so co-consumption carries taste the text does not. Both modes write raw/_truth/item_groups.parquet (each item's topic or community).
    """
    from ingest.generate import generate

    cfg = get_config(ctx)
    given: dict[str, object] = {"seed": seed, "users": users, "podcasts": podcasts, "audiobooks": audiobooks}
    given |= {"days": days, "tastes": tastes and tastes.value, "communities": communities}
    given |= {"content_types": content_types, "audio_courses": audio_courses, "text_signal": text_signal}
    gen_cfg = cfg.generate.model_copy(update={k: v for k, v in given.items() if v is not None})
    counts = generate(gen_cfg, cfg.raw_dir)
    _report(f"generated (seed {gen_cfg.seed})", counts, cfg.raw_dir)


@handle_errors
def import_command(
    ctx: typer.Context,
    source: Annotated[Source, typer.Argument(help="Which dataset: movielens or lightgcn.")],
    path: Annotated[
        Path | None,
        typer.Option(help="Source folder (default ../shared/data/<dataset> from the current directory)."),
    ] = None,
) -> None:
    """Import a real dataset into raw/ in the same contract as generated data.

    movielens: ratings >= 3.5 become streams, lower ratings previews, tags follows; content types come from genres (animation, documentary, feature_film).

    lightgcn: train.txt/test.txt pairs become streams, keeping the published split as a fixed split (train before the last 14 days, test inside them).
    """
    cfg = get_config(ctx)
    src = path or DEFAULT_PATHS[source.value]
    if source is Source.movielens:
        from ingest.movielens import import_movielens

        counts = import_movielens(src, cfg.raw_dir)
    else:
        from ingest.lightgcn import import_lightgcn

        counts = import_lightgcn(src, cfg.raw_dir)
    _report(f"imported {source.value} from {src}", counts, cfg.raw_dir)


def _report(title: str, counts: dict[str, int], raw_dir: Path) -> None:
    """Print a small table of row counts and where the files went."""
    from rich.table import Table

    from ingest.manifest import read_manifest

    manifest = read_manifest(raw_dir)
    table = Table(title=f"raw batch {title}", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("files")
    for name, count in counts.items():
        table.add_row(name, f"{count:,}", f"{name}/")
    console.print(table)
    console.print(f"written to {raw_dir.resolve()}", highlight=False, soft_wrap=True)
    console.print(
        f"window {manifest.window_start:%Y-%m-%d} .. {manifest.window_end:%Y-%m-%d}, "
        f"content types {', '.join(manifest.content_types)}, suggested split "
        f"train_days={manifest.suggested_split.train_days or 'all'} eval_days={manifest.suggested_split.eval_days}"
        + (" (fixed split)" if manifest.fixed_split else ""),
        highlight=False,
        soft_wrap=True,
    )
