"""Shared CLI plumbing: the config held in the Typer context and error handling."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.markup import escape

from gfm.config import Config
from gfm.errors import GfmError
from gfm.progress import console

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CliState:
    """What the root callback parsed; the config is loaded on first use."""

    config_path: Path | None = None
    data_dir: Path | None = None
    _config: Config | None = field(default=None, repr=False)

    def config(self) -> Config:
        if self._config is None:
            self._config = Config.load(self.config_path, data_dir=self.data_dir)
        return self._config


def get_config(ctx: typer.Context) -> Config:
    """The effective config of this invocation."""
    state = ctx.find_root().obj
    if not isinstance(state, CliState):
        state = CliState()
        ctx.find_root().obj = state
    return state.config()


def get_training_config(ctx: typer.Context, **flags: dict[str, object]) -> Config:
    """The config with the setup ``gfm run`` would choose for this data, each choice printed.

    Training and evaluation commands use it, so a stage run by itself trains what the pipeline
    would (``pipeline.setup_choice.choose_for_data``); fields the user set are never changed.

    Args:
        ctx: The command's context (the global options).
        **flags: Per config section, the fields the command's own flags set (``hgnn={"epochs": 8}``):
            set before the choice, so, like any setting the user gives, they are kept and no
            choice about them is printed.
    """
    from pipeline.setup_choice import choose_for_data

    cfg = get_config(ctx)
    for section, fields in flags.items():
        cfg = cfg.model_copy(update={section: getattr(cfg, section).model_copy(update=fields)})
    chosen, choices = choose_for_data(cfg)
    for c in choices:
        console.print(c.line())
    return chosen


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print a GfmError as a short red message and exit with status 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except GfmError as exc:
            # escaped: gate messages carry [expect_...] tags that Rich would read as markup
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(code=2) from exc

    return wrapper


def parse_ids(text: str) -> list[int]:
    """Parse ``"1,2,3"`` into ints, with a clear error naming the bad token."""
    out: list[int] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        try:
            out.append(int(token))
        except ValueError as exc:
            raise typer.BadParameter(f"not an integer id: {token!r}") from exc
    return out


def echo_json(obj: Any) -> None:
    """Print an object as pretty JSON on stdout."""
    import json

    typer.echo(json.dumps(obj, indent=2, default=str))
