"""``gfm transform``: raw batch -> raw gate -> landing -> dbt build -> marts gate -> promote.

dbt builds on the engine of ``warehouse.engine``: DuckDB (default) straight into ``build.duckdb``,
or Spark (``warehouse/spark_marts.py``), whose marts are then loaded into ``build.duckdb``, so
every later step is the same.

Every step writes only into ``warehouse/`` scratch paths (``build.duckdb``, ``.landing.next/``)
until the marts gate has passed; the last step swaps the new DuckDB file, Parquet marts and
landing files in. So a failure anywhere (bad raw data, a batch that shrinks the live warehouse by
more than ``validation.max_shrink``, a failing dbt test, a failed gate) leaves the previous good
warehouse, landing files and marts untouched and removes the scratch paths, and a re-run starts
from scratch (idempotent).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gfm.config import Config
from gfm.errors import StageError
from gfm.progress import console, make_progress
from warehouse.dbt_runner import DbtInvocation, SparkTarget, raise_on_failure, run_dbt
from warehouse.dbt_vars import SplitBoundaries, build_vars, compute_split, resolve_content_types
from warehouse.promote import stage_marts, swap_in

RUN_RECORD = "transform.json"  # the promoted build's vars, counts and timings (beside gfm.duckdb)
RUN_RESULTS = "dbt_run_results.json"  # dbt's own record of the promoted build


@dataclass
class TransformResult:
    """What one ``gfm transform`` produced.

    Attributes:
        row_counts: Rows per mart.
        landing_counts: Rows per landed raw table.
        split: The train/eval windows the marts were built with.
        content_types: The content types found (one ``n_streams_90d_<type>`` column each).
        dbt_vars: The vars passed to dbt.
        timings: Wall seconds per step: read_raw, raw_gate, landing, dbt_build, marts_gate, promote.
        model_timings: dbt execution seconds per model, slowest first.
        n_dbt_tests: How many dbt data tests ran (all passed).
        warehouse_path: The DuckDB file analysts open.
        marts_dir: The folder of Parquet marts.
        run_results_path: dbt's ``run_results.json`` of this build.

    """

    row_counts: dict[str, int]
    landing_counts: dict[str, int]
    split: SplitBoundaries
    content_types: list[str]
    dbt_vars: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    model_timings: dict[str, float] = field(default_factory=dict)
    n_dbt_tests: int = 0
    warehouse_path: Path = Path()
    marts_dir: Path = Path()
    run_results_path: Path = Path()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths and times as strings)."""
        data = asdict(self)
        data["split"] = self.split.to_dict()
        plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
        return plain


def run_transform(cfg: Config, *, show_progress: bool = True) -> TransformResult:
    """Build, test, gate and promote the marts from the raw batch in ``cfg.raw_dir``.

    Args:
        cfg: The config (raw and warehouse paths, ``split``, ``graph``, ``validation``).
        show_progress: Print one status line per step and a dbt progress bar (stderr).

    Returns:
        Row counts per mart, split boundaries, timings and paths.

    Raises:
        RawInputError: If a raw file breaks the contract.
        GateFailedError: If the raw or the marts gate fails, or the batch shrinks the live
            warehouse's events or items by more than ``validation.max_shrink`` (``ShrinkRefused``)
            while ``validation.allow_shrink`` is off.
        StageError: If dbt fails (naming every failed model or test) or the split is empty.

    """
    from gfm.tombstones import read_tombstones
    from ingest.forgotten import drop_forgotten
    from ingest.manifest import read_manifest
    from ingest.raw_io import load_raw, write_landing
    from validation.gates import run_marts_gate, run_raw_gate
    from validation.volume import check_volume

    work = cfg.warehouse_path.parent
    build_db = work / "build.duckdb"
    staged_landing = work / ".landing.next"  # becomes landing/ on promotion, never before
    spark = _spark_target(cfg, work)
    timings: dict[str, float] = {}
    # a failed step leaves nothing of this build behind: the previous promoted state only
    scratch = (build_db, Path(f"{build_db}.wal"), staged_landing, *((spark.warehouse,) if spark else ()))
    step = _Steps(timings, show_progress, scratch=scratch)

    with step("read_raw", "read the raw batch"):
        manifest = read_manifest(cfg.raw_dir)
        tables = load_raw(cfg.raw_dir, cfg.validation)
        # users removed by `gfm forget` never pass this point, whatever a later batch holds
        tables, forgotten = drop_forgotten(tables, read_tombstones(cfg.data_dir))
        if forgotten and show_progress:
            console.print(f"  left out forgotten users' rows: {forgotten}", style="dim", highlight=False)
    with step("raw_gate", "volume guard + raw gate (Great Expectations)"):
        counts = {name: len(frame) for name, frame in tables.as_dict().items()}
        live = live_raw_counts(cfg.warehouse_path)
        for shrink in check_volume(counts, live, cfg.validation, source=str(cfg.raw_dir)):
            console.print(f"[yellow]accepted (--allow-shrink):[/] {shrink.line()}", highlight=False)
        run_raw_gate(tables, manifest, cfg)
    with step("landing", "write the landing Parquet files"):
        landing_dir = staged_landing
        shutil.rmtree(landing_dir, ignore_errors=True)
        landing_counts = write_landing(tables, landing_dir)
        split = compute_split(cfg.split, manifest)
        content_types = resolve_content_types(manifest.content_types, tables.items["content_type"].unique())
        dbt_vars = build_vars(
            landing_dir=landing_dir, split=split, content_types=content_types, graph=cfg.graph
        )
        del tables
    with step("dbt_build", "dbt build (models + tests)"):
        for stale in (build_db, Path(f"{build_db}.wal")):
            stale.unlink(missing_ok=True)
        invocation = _dbt_build(cfg, build_db, dbt_vars, show_progress, spark)
        raise_on_failure(invocation)
        if spark is not None:
            from warehouse.spark_marts import load_spark_marts

            load_spark_marts(spark.warehouse, build_db)
            shutil.rmtree(spark.warehouse, ignore_errors=True)
    with step("marts_gate", "marts gate (Great Expectations)"):
        run_marts_gate(build_db, cfg)
    with step("promote", "promote the warehouse and the Parquet marts"):
        dbt_vars["landing_dir"] = str(cfg.landing_dir.resolve())  # where the landing files end up
        staged = stage_marts(build_db, cfg.marts_dir)
        result = TransformResult(
            row_counts=staged.counts,
            landing_counts=landing_counts,
            split=split,
            content_types=content_types,
            dbt_vars=dbt_vars,
            timings=timings,
            model_timings=invocation.timings(),
            n_dbt_tests=sum(1 for n in invocation.nodes if n.resource_type == "test"),
            warehouse_path=cfg.warehouse_path,
            marts_dir=cfg.marts_dir,
            run_results_path=work / RUN_RESULTS,
        )
        record = work / f".{RUN_RECORD}.next"
        record.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        provenance = {record: work / RUN_RECORD}
        if invocation.run_results_path is not None:
            provenance[invocation.run_results_path] = work / RUN_RESULTS
        swap_in(
            staged,
            build_db,
            cfg.warehouse_path,
            cfg.marts_dir,
            provenance,
            landing=(landing_dir, cfg.landing_dir),
        )
    return result


def live_raw_counts(warehouse_path: Path) -> dict[str, int] | None:
    """Rows per raw table the promoted warehouse was built from (None when nothing is promoted)."""
    record = warehouse_path.parent / RUN_RECORD
    if not warehouse_path.is_file() or not record.is_file():
        return None
    counts = json.loads(record.read_text(encoding="utf-8")).get("landing_counts") or {}
    return {str(table): int(rows) for table, rows in counts.items()}


def dbt_docs(cfg: Config, *, show_progress: bool = True) -> Path:
    """Generate the dbt docs site of the promoted warehouse.

    Args:
        cfg: The config (warehouse path and reports folder).
        show_progress: Show a spinner while dbt runs.

    Returns:
        The docs' ``index.html`` (under ``reports/dbt_docs/``); open it or serve its folder.

    Raises:
        StageError: If there is no promoted warehouse yet, or dbt fails.

    """
    record = cfg.warehouse_path.parent / RUN_RECORD
    if not cfg.warehouse_path.exists() or not record.exists():
        raise StageError(f"no promoted warehouse at {cfg.warehouse_path}: run `gfm transform` first")
    dbt_vars = json.loads(record.read_text(encoding="utf-8"))["dbt_vars"]
    target = cfg.reports_dir / "dbt_docs"
    with console.status("dbt docs generate") if show_progress else _nothing():
        invocation = run_dbt(
            ["docs", "generate"],
            db_path=cfg.warehouse_path,
            target_dir=target,
            log_dir=cfg.warehouse_path.parent / "dbt_logs",
            dbt_vars=dbt_vars,
        )
    raise_on_failure(invocation)
    index = target / "index.html"
    if not index.exists():
        raise StageError(f"dbt docs generate wrote no {index}")
    return index


def _spark_target(cfg: Config, work: Path) -> SparkTarget | None:
    """The Spark target of this build (None on DuckDB); checks first that Spark can run here."""
    if cfg.warehouse.engine != "spark":
        return None
    from warehouse.spark_marts import require_spark

    require_spark()
    folder = work / ".spark.next"  # Spark's tables of this build, removed once loaded
    shutil.rmtree(folder, ignore_errors=True)
    return SparkTarget(folder, cfg.warehouse.spark_master, cfg.warehouse.spark_driver_memory)


def _dbt_build(
    cfg: Config, build_db: Path, dbt_vars: dict[str, Any], show_progress: bool, spark: SparkTarget | None
) -> DbtInvocation:
    kwargs: dict[str, Any] = {
        "db_path": build_db,
        "target_dir": cfg.warehouse_path.parent / "dbt_target",
        "log_dir": cfg.warehouse_path.parent / "dbt_logs",
        "dbt_vars": dbt_vars,
        "spark": spark,
    }
    if not show_progress:
        return run_dbt(["build"], **kwargs)
    with make_progress(transient=True) as progress:
        task = progress.add_task("dbt build", total=None)

        def advance(done: int, total: int, line: str) -> None:
            progress.update(task, completed=done, total=total, description=f"dbt build {_node_name(line)}")

        return run_dbt(["build"], on_progress=advance, **kwargs)


def _node_name(line: str) -> str:
    # "12 of 80 OK created sql table model main.dim_users ...... [OK in 0.1s]" -> "dim_users"
    words = [w for w in line.split() if "." in w and not w.startswith("[")]
    return words[0].split(".")[-1][:40] if words else ""


class _Steps:
    """Times each step (by key), prints one status line per step, and on a failure removes ``scratch``."""

    def __init__(
        self, timings: dict[str, float], show: bool, total: int = 6, scratch: tuple[Path, ...] = ()
    ) -> None:
        self.timings, self.show, self.total, self.scratch = timings, show, total, scratch

    @contextmanager
    def __call__(self, key: str, label: str) -> Iterator[None]:
        started = time.perf_counter()
        if self.show:
            console.print(
                f"[bold cyan]transform[/] [{len(self.timings) + 1}/{self.total}] {label} ...", highlight=False
            )
        try:
            yield
        except BaseException:
            for path in self.scratch:  # files and folders of the failed build
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            raise
        self.timings[key] = round(time.perf_counter() - started, 3)
        if self.show:
            console.print(f"  done in {self.timings[key]:.1f}s", style="dim", highlight=False)


@contextmanager
def _nothing() -> Iterator[None]:
    yield
