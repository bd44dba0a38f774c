"""One entry point per stage: the raw, marts and embeddings gates.

Each gate validates its stage's output with real Great Expectations suites, builds the HTML Data
Docs under ``<reports_dir>/validation/data_docs/`` and writes a JSON summary beside them
(``<stage>-latest.json`` and ``runs/<stage>-<time>.json``; the embeddings gate names its files
``embeddings-<model>-<items|users>``). It returns a :class:`GateResult` when
every expectation passes, and raises :class:`validation.results.GateFailed` (a
:class:`gfm.errors.GateFailedError` that also carries the result) otherwise.

Great Expectations is imported lazily (3-5 s), when a gate first runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from validation.results import GateResult, raise_if_failed

if TYPE_CHECKING:
    from gfm.config import Config
    from ingest.manifest import RawManifest
    from ingest.raw_io import RawTables

__all__ = ["run_embeddings_gate", "run_marts_gate", "run_raw_gate"]


def run_raw_gate(
    tables: RawTables, manifest: RawManifest, cfg: Config, *, now: datetime | None = None
) -> GateResult:
    """Gate a raw batch (after ``ingest.raw_io.load_raw``) before it lands in the warehouse.

    Args:
        tables: The raw tables in contract dtypes.
        manifest: The batch's manifest (its window and content types).
        cfg: The config (``validation`` settings and ``reports_dir``).
        now: The current time for the "not in the future" check; the wall clock when None.

    Returns:
        The result, when every expectation passed.

    Raises:
        GateFailedError: When any expectation failed (summary: table, column, rows, examples).

    """
    from validation.engine import run_batches
    from validation.raw_suite import raw_batches

    batches = raw_batches(tables, manifest, cfg.validation, source=str(cfg.raw_dir), now=now)
    return raise_if_failed(run_batches("raw", batches, out_dir=_out_dir(cfg), vcfg=cfg.validation))


def run_marts_gate(db_path: Path, cfg: Config) -> GateResult:
    """Gate freshly built marts (``warehouse/build.duckdb``) before they are promoted.

    Args:
        db_path: The DuckDB file dbt just built; opened read-only.
        cfg: The config (``graph.min_support``, ``validation`` settings and ``reports_dir``).

    Returns:
        The result, when every expectation passed.

    Raises:
        StageError: When the file or a mart is missing.
        GateFailedError: When any expectation failed.

    """
    from validation.engine import run_batches
    from validation.marts_suite import marts_batches

    batches = marts_batches(db_path, cfg.graph)
    return raise_if_failed(run_batches("marts", batches, out_dir=_out_dir(cfg), vcfg=cfg.validation))


def run_embeddings_gate(
    parquet_path: Path,
    *,
    entity: str,
    expected_ids: Sequence[int] | None,
    dim: int,
    unit_norm: bool,
    cfg: Config,
) -> GateResult:
    """Gate an exported embedding file (docs/contracts.md, section 3) before it is published.

    Args:
        parquet_path: ``embeddings/<model>/<version>/{items,users}.parquet``.
        entity: ``item`` or ``user`` (the id column is ``<entity>_id``).
        expected_ids: Every id that must have a vector (e.g. all catalogue items); None skips it.
        dim: The vector dimension.
        unit_norm: Whether every vector must have L2 norm 1 (tolerance 1e-3).
        cfg: The config (``validation`` settings and ``reports_dir``).

    Returns:
        The result, when every expectation passed.

    Raises:
        StageError: When the file cannot be read or lacks a contract column.
        GateFailedError: When any expectation failed.

    """
    from validation.embeddings_suite import embedding_batches
    from validation.engine import run_batches

    batches = embedding_batches(
        parquet_path, entity=entity, expected_ids=expected_ids, dim=dim, unit_norm=unit_norm
    )
    # embeddings/<model>/<version>/items.parquet -> "embeddings-<model>-items"
    label = f"embeddings-{parquet_path.parent.parent.name}-{parquet_path.stem}"
    result = run_batches("embeddings", batches, out_dir=_out_dir(cfg), vcfg=cfg.validation, label=label)
    return raise_if_failed(result)


def _out_dir(cfg: Config) -> Path:
    return cfg.reports_dir / "validation"
