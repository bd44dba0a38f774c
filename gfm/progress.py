"""Rich progress output shared by every long-running stage.

On a terminal the bars redraw in place. Where stderr is not a terminal (a log file, ``nohup``, a
scheduler's captured output) a redrawn bar cannot be shown, and rich prints nothing until the
stage ends: an hour-long training would look hung. There the bars print a plain line per task
every ``LOG_EVERY_S`` seconds instead (counts, elapsed, and the time left at the pace so far).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["LOG_EVERY_S", "LogProgress", "console", "make_progress", "status"]

console = Console(stderr=True)
LOG_EVERY_S = 60.0  # where stderr is not a terminal: seconds between a task's progress lines


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class LogProgress(Progress):
    """A ``Progress`` that also prints a plain line per task every ``every`` seconds.

    For output that is not a terminal; the bars themselves are left to rich, which renders them
    once at the end.
    """

    def __init__(self, *columns: Any, every: float = LOG_EVERY_S, **kwargs: Any) -> None:
        """Keep rich's arguments; ``every`` is the seconds between a task's lines."""
        super().__init__(*columns, **kwargs)
        self.every = every
        self._last: dict[TaskID, float] = {}

    def add_task(self, description: str, *args: Any, **kwargs: Any) -> TaskID:
        """Add a task; its first line comes ``every`` seconds after it starts."""
        task_id = super().add_task(description, *args, **kwargs)
        self._last[task_id] = self.get_time()
        return task_id

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        """Advance as rich does, then print a line if one is due."""
        super().advance(task_id, advance)
        self._maybe_log(task_id)

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        """Update as rich does, then print a line if one is due."""
        super().update(task_id, **kwargs)
        self._maybe_log(task_id)

    def line(self, task_id: TaskID) -> str:
        """The plain line of one task, e.g. ``train hgnn: 120/800 (15%), 2:31 elapsed, about 14:10 left``."""
        task = self._tasks[task_id]
        elapsed = task.elapsed or 0.0
        done = f"{task.completed:,.0f}"
        if not task.total:
            return f"{task.description}: {done}, {_clock(elapsed)} elapsed"
        share = task.completed / task.total
        text = f"{task.description}: {done}/{task.total:,.0f} ({share:.0%}), {_clock(elapsed)} elapsed"
        if 0 < share < 1:
            text += f", about {_clock(elapsed * (1 - share) / share)} left"
        return text

    def _maybe_log(self, task_id: TaskID) -> None:
        now = self.get_time()
        task = self._tasks[task_id]
        if task.visible and now - self._last.get(task_id, now) >= self.every:
            self._last[task_id] = now
            self.console.print(self.line(task_id), markup=False, highlight=False)


def make_progress(
    transient: bool = False,
    *,
    target: Console | None = None,
    get_time: Callable[[], float] | None = None,
) -> Progress:
    """A progress bar with counts, elapsed and remaining time, printed to stderr.

    Args:
        transient: Clear the bars when done (on a terminal).
        target: The console to print to (the shared stderr console by default).
        get_time: A clock for the lines' timing (tests); rich's monotonic clock by default.

    Returns:
        A rich ``Progress``; a ``LogProgress`` where the console is not a terminal.

    """
    out = target or console
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    if out.is_terminal:
        return Progress(*columns, console=out, transient=transient, get_time=get_time)
    return LogProgress(*columns, console=out, transient=transient, get_time=get_time)


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner for a step whose length is unknown (dbt build, Feast apply)."""
    with console.status(message):
        yield
