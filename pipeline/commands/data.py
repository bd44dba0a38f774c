"""CLI commands of the data stage: ``gfm generate`` and ``gfm import movielens|lightgcn|logs``.

Each writes ``raw/`` (the raw log contract) under the data directory, replacing it atomically.
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


import_app = typer.Typer(
    help="Import real data into raw/ in the same contract as generated data: a public dataset "
    "(movielens, lightgcn) or your own logs (logs).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("generate")(generate_command)
    app.add_typer(import_app, name="import")
    import_app.command("movielens")(import_movielens_command)
    import_app.command("lightgcn")(import_lightgcn_command)
    import_app.command("logs")(import_logs_command)


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


_PATH_HELP = "Source folder (default ../shared/data/<dataset> from the current directory)."


@handle_errors
def import_movielens_command(
    ctx: typer.Context, path: Annotated[Path | None, typer.Option(help=_PATH_HELP)] = None
) -> None:
    """MovieLens: ratings >= 3.5 become streams, lower ratings previews, tags follows; content types come from genres (animation, documentary, feature_film)."""
    from ingest.movielens import import_movielens

    cfg = get_config(ctx)
    src = path or DEFAULT_PATHS["movielens"]
    _report(f"imported movielens from {src}", import_movielens(src, cfg.raw_dir), cfg.raw_dir)


@handle_errors
def import_lightgcn_command(
    ctx: typer.Context, path: Annotated[Path | None, typer.Option(help=_PATH_HELP)] = None
) -> None:
    """LightGCN format: train.txt/test.txt pairs become streams, keeping the published split as a fixed split (train before the last 14 days, test inside them)."""
    from ingest.lightgcn import import_lightgcn

    cfg = get_config(ctx)
    src = path or DEFAULT_PATHS["lightgcn"]
    _report(f"imported lightgcn from {src}", import_lightgcn(src, cfg.raw_dir), cfg.raw_dir)


@handle_errors
def import_logs_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Event files (.csv, .parquet) or folders of them.")],
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML mapping: your column names and event values -> the raw contract."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Free-text name of the source, kept in the manifest.")
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="Time zone of times without an offset (e.g. UTC).")
    ] = None,
    content_type: Annotated[str | None, typer.Option(help="One content type for every item.")] = None,
    items: Annotated[
        Path | None, typer.Option(help="Items file (item_id, content_type, title, ...).")
    ] = None,
    users: Annotated[
        Path | None, typer.Option(help="Users file (user_id, country, age_bucket, signup_at).")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(help="CONTRACT=YOURS for an event column, e.g. user_id=listener (repeat)."),
    ] = None,
    event: Annotated[
        list[str] | None, typer.Option(help="YOURS=CONTRACT for an event value, e.g. play=stream (repeat).")
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option(help="An event value to drop on purpose, e.g. pause (repeat).")
    ] = None,
    event_type: Annotated[
        str | None, typer.Option(help="Every row is this event (stream, ...): logs without an event column.")
    ] = None,
) -> None:
    """Your own logs: Parquet or CSV files mapped into the raw contract by a YAML mapping or flags.

    Flags override the mapping file. Times without an offset need a time zone (--tz or timezone:);
    every event value must be mapped (or listed under events.ignore); what the logs lack (text,
    profiles, weak signals, play time) is filled with placeholders and recorded in the manifest's
    traits. `gfm run --source existing` then runs the pipeline on the batch.
    """
    from ingest.importing import import_logs, load_mapping

    cfg = get_config(ctx)
    overrides: dict[str, object] = {}
    given = {
        "source": source,
        "timezone": tz,
        "items.content_type": content_type,
        "events.event_type": event_type,
    }
    for key, value in given.items():
        if value is not None:
            overrides[key] = value
    for key, file in (("items.path", items), ("users.path", users)):
        if file is not None:
            overrides[key] = str(file.resolve())
    for pair in column or []:
        contract, theirs = _pair(pair, "--column")
        overrides[f"events.columns.{contract}"] = theirs
    if event:
        overrides["events.event_types"] = dict(_pair(pair, "--event") for pair in event)
    if ignore:
        overrides["events.ignore"] = ignore
    loaded, base_dir = load_mapping(mapping, overrides)
    counts = import_logs(
        paths, loaded, cfg.raw_dir, base_dir=base_dir, max_examples=cfg.validation.max_examples
    )
    _report(f"imported {loaded.source!r}", counts, cfg.raw_dir)


def _pair(text: str, flag: str) -> tuple[str, str]:
    left, sep, right = text.partition("=")
    if not sep or not left.strip() or not right.strip():
        raise typer.BadParameter(f"{flag} takes A=B, got {text!r}")
    return left.strip(), right.strip()


def _report(title: str, counts: dict[str, int], raw_dir: Path) -> None:
    """Print a small table of row counts and where the files went."""
    from rich.markup import escape
    from rich.table import Table

    from ingest.manifest import read_manifest

    manifest = read_manifest(raw_dir)
    # the title may hold a free-text source name: escaped, so brackets are not read as markup
    table = Table(title=f"raw batch {escape(title)}", title_justify="left")
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
    if manifest.traits is not None:
        lacks = [name.removeprefix("has_") for name, has in manifest.traits.model_dump().items() if not has]
        if lacks:
            console.print(f"the source lacks: {', '.join(lacks)} (placeholders; see traits in the manifest)")
