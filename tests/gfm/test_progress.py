"""Progress where stderr is not a terminal: plain lines at an interval, not silence."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from gfm.progress import LogProgress, make_progress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_not_a_terminal_prints_a_line_per_interval_with_counts_and_time_left() -> None:
    out = io.StringIO()
    clock = _Clock()
    with make_progress(target=Console(file=out, force_terminal=False), get_time=clock) as progress:
        assert isinstance(progress, LogProgress)
        task = progress.add_task("train hgnn", total=800)
        clock.now = 30.0
        progress.advance(task, 100)  # under a minute since the start: no line yet
        assert "train hgnn:" not in out.getvalue()
        clock.now = 120.0
        progress.advance(task, 100)  # 200 of 800 after 2 minutes: 6 minutes left at that pace
        clock.now = 150.0
        progress.update(task, advance=200)  # 30 s after the last line: none
    lines = [line for line in out.getvalue().splitlines() if line.startswith("train hgnn:")]
    assert lines == ["train hgnn: 200/800 (25%), 2:00 elapsed, about 6:00 left"]


def test_a_task_without_a_total_gives_its_count_and_elapsed_time() -> None:
    out = io.StringIO()
    clock = _Clock()
    with make_progress(target=Console(file=out, force_terminal=False), get_time=clock) as progress:
        task = progress.add_task("dbt build", total=None)
        clock.now = 61.0
        progress.update(task, completed=7)
    assert "dbt build: 7, 1:01 elapsed" in out.getvalue()


def test_a_terminal_keeps_rich_bars() -> None:
    progress = make_progress(target=Console(file=io.StringIO(), force_terminal=True))
    assert type(progress) is Progress
