"""``gfm run``: the whole pipeline, raw logs to a searchable, versioned, gated index.

Stages run in order; each is timed and recorded on the version's provenance card. A failed gate
stops the run, leaves the previous version live, and says why. Publishing (Feast online store and
the Milvus alias swap) happens only after every gate has passed. The release record
(``gfm.releases``) follows the version: running, then failed or gated, then published; moving the
stores is ``pipeline.release``, which also repairs and cleans up after a killed run at the start
of the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gfm.config import Config
from gfm.errors import GateFailedError, GfmError
from gfm.progress import console
from pipeline.context import RunContext
from pipeline.provenance import StageRecord

Source = Literal["synthetic", "movielens", "lightgcn", "existing"]


@dataclass
class RunResult:
    """What a pipeline run produced."""

    version: str
    status: str
    card_path: Path
    report_path: Path | None = None


STAGE_HOOK: Callable[[str], None] | None = None
"""Tests set this to kill the run at a stage boundary; called with each stage's name before it."""


class _Recorder:
    """Runs stages, times them and records them on the card (written after every stage)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def __call__(self, name: str, func: Callable[[], Any]) -> Any:
        if STAGE_HOOK is not None:
            STAGE_HOOK(name)
        console.rule(f"[bold cyan]{name}")
        card = self.ctx.card
        start = time.perf_counter()
        try:
            result = func()
        except GfmError as exc:
            card.stages.append(StageRecord(name, time.perf_counter() - start, "failed", {"error": str(exc)}))
            card.status = "gate_failed" if isinstance(exc, GateFailedError) else "failed"
            card.reason = f"{name}: {exc}"
            self.ctx.write_card()
            raise
        seconds = time.perf_counter() - start
        card.stages.append(StageRecord(name, seconds, "ok"))
        self.ctx.write_card()
        console.print(f"[green]✓[/] {name} ({seconds:.1f} s)")
        return result


def run_pipeline(cfg: Config, source: Source = "synthetic", source_path: Path | None = None) -> RunResult:
    """Run every stage for one new version.

    Args:
        cfg: The effective config.
        source: Where raw logs come from: generate synthetic data, import a public dataset, or
            use the raw folder as it is.
        source_path: The dataset folder for ``movielens``/``lightgcn``.

    Returns:
        The version, its final status and where its card and report are.

    Raises:
        GfmError: A stage failed (a gate, bad input, a missing file); the card says which.
    """
    from gfm import releases
    from pipeline import release, stages
    from pipeline.quality_gate import quality_gate

    release.prepare(cfg)  # repair an interrupted publish, fail dead runs, remove their leftovers
    ctx = RunContext.start(cfg, source)
    releases.start_run(cfg.data_dir, ctx.version)
    step = _Recorder(ctx)
    console.print(f"[bold]gfm run[/] version [cyan]{ctx.version}[/] data dir [cyan]{cfg.data_dir}[/]")

    try:
        step("1. raw data", lambda: stages.ingest(ctx, source, source_path))
        step("2-3. transform (dbt) + raw and mart gates", lambda: stages.transform(ctx))
        ctx = step.ctx = stages.choose_setup(ctx)  # from the manifest's traits and the data's size
        step("4. features: apply + materialize", lambda: stages.features(ctx))
        step("5. text features", lambda: stages.text(ctx))
        step("6. HGNN", lambda: stages.hgnn(ctx))
        step("7. two-tower", lambda: stages.two_tower(ctx))
        step("8. embedding gate", lambda: stages.embedding_gate(ctx))
        report = step("9. evaluation", lambda: stages.evaluate(ctx))
        step("10. quality gate", lambda: quality_gate(ctx))
        releases.transition(cfg.data_dir, ctx.version, "gated")
        step("11. publish: Feast + Milvus, every pointer moved together", lambda: stages.publish(ctx))
    except BaseException as exc:  # also Ctrl-C: the record must not say "running" forever
        release.fail(cfg, ctx.version, ctx.card.reason or f"{type(exc).__name__}: {exc}")
        raise
    ctx.card.status = "published"
    path = ctx.write_card()
    step("12. report", lambda: stages.report(ctx, report))
    return RunResult(version=ctx.version, status=ctx.card.status, card_path=path, report_path=report)
