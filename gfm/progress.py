"""Rich progress output shared by every long-running stage."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def make_progress(transient: bool = False) -> Progress:
    """A progress bar with counts, elapsed and remaining time, printed to stderr."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
    )


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner for a step whose length is unknown (dbt build, Feast apply)."""
    with console.status(message):
        yield
