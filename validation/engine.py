"""Run expectation suites on pandas batches through one cached Great Expectations context.

Every stage hands over a list of :class:`Batch` (a table, its frame and its expectations). For
each batch this module registers, in an ephemeral GX context created once per process, a pandas
dataframe asset → whole-dataframe batch definition → ExpectationSuite → ValidationDefinition →
Checkpoint, runs it, then builds the HTML Data Docs for just this run into the reports folder
and writes a JSON summary beside them.

Why pandas and not GX's SQL datasource: on DuckDB every SQL expectation fails with
``MetricResolutionError`` (see STACK-NOTES), so stages read DuckDB/Parquet into pandas first.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from gfm.config import ValidationConfig
from validation.results import ExpectationOutcome, GateResult

_DOCS_FOLDER = "data_docs"


@dataclass
class Batch:
    """One table to validate.

    Attributes:
        table: The table name (used in suite names and the summary).
        source: Where the table came from, for the summary (folder, ``db::table``, file).
        frame: The data, possibly with derived columns that hold offending values.
        expectations: GX expectation instances, built with :func:`validation.expectations.expect`.

    """

    table: str
    source: str
    frame: pd.DataFrame
    expectations: list[Any]


@functools.cache
def get_context() -> Any:
    """Return the process-wide ephemeral GX context (no analytics, no progress bars, in-memory stores)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def run_batches(
    stage: str, batches: list[Batch], *, out_dir: Path, vcfg: ValidationConfig, label: str | None = None
) -> GateResult:
    """Validate every batch, build Data Docs and the JSON summary, and collect the outcomes.

    Args:
        stage: The gate's name (``raw``, ``marts``, ``embeddings``).
        label: Names this run in Data Docs and the JSON file names (default ``stage``), e.g.
            ``embeddings-hgnn-items`` so that several exports gated in a row keep their records.
        batches: The tables and their expectations.
        out_dir: ``<reports_dir>/validation``; Data Docs go to ``out_dir/data_docs``.
        vcfg: Validation settings (examples per failure, whether to build Data Docs).

    Returns:
        The gate result (``success`` False when any expectation failed); it does not raise.

    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    started = time.perf_counter()
    run_at = datetime.now(UTC)
    label = label or stage
    run_id = RunIdentifier(run_name=label, run_time=run_at)
    context = get_context()
    datasource = _pandas_datasource(context, f"gfm_{stage}")
    # ask GX for more examples than shown, so that repeated values can be folded away
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 4 * vcfg.max_examples}
    outcomes: list[ExpectationOutcome] = []
    result_ids: list[Any] = []
    for batch in batches:
        name = f"{stage}.{batch.table}"
        _forget(context, name)
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=batch.expectations))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=_whole_frame(datasource, batch.table), suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=name, validation_definitions=[definition], actions=[], result_format=result_format
            )
        )
        run = checkpoint.run(batch_parameters={"dataframe": batch.frame}, run_id=run_id)
        for result_id, validation in run.run_results.items():
            result_ids.append(result_id)
            outcomes.extend(_outcome(batch, r, vcfg.max_examples) for r in validation.results)
    result = GateResult(
        stage=stage,
        success=all(o.success for o in outcomes),
        expectations=outcomes,
        run_at=run_at.isoformat(),
        row_counts={b.table: len(b.frame) for b in batches},
    )
    if vcfg.build_data_docs:
        result.docs_path = str(_build_docs(context, out_dir / _DOCS_FOLDER, result_ids))
    result.elapsed_s = round(time.perf_counter() - started, 3)
    stamp = run_at.strftime("%Y%m%dT%H%M%S%fZ")
    result.summary_path = str(out_dir / "runs" / f"{label}-{stamp}.json")
    result.write_json(Path(result.summary_path))
    result.write_json(out_dir / f"{label}-latest.json")
    return result


def _forget(context: Any, name: str) -> None:
    """Remove the previous run's checkpoint, validation definition and suite called ``name``.

    Deleting and adding is several times cheaper than ``add_or_update``, which compares every
    expectation of the old and new suite through pydantic.
    """
    from great_expectations.exceptions import DataContextError

    for factory in (context.checkpoints, context.validation_definitions, context.suites):
        with contextlib.suppress(DataContextError):
            factory.delete(name)


def _pandas_datasource(context: Any, name: str) -> Any:
    if name in context.data_sources.all():
        return context.data_sources.get(name)
    return context.data_sources.add_pandas(name)


def _whole_frame(datasource: Any, table: str) -> Any:
    """Return the whole-dataframe batch definition of ``table`` (asset and definition made once)."""
    names = {asset.name for asset in datasource.assets}
    asset = datasource.get_asset(table) if table in names else datasource.add_dataframe_asset(table)
    try:
        return asset.get_batch_definition("whole")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("whole")


def _build_docs(context: Any, folder: Path, result_ids: list[Any]) -> Path:
    """Build this run's pages of the Data Docs site in ``folder``; return its index page."""
    folder = folder.resolve()
    site = "gfm_" + hashlib.sha1(str(folder).encode()).hexdigest()[:10]
    if site not in context.get_site_names():
        context.add_data_docs_site(
            site_name=site,
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
            },
        )
    urls = context.build_data_docs(site_names=[site], resource_identifiers=result_ids)
    return Path(unquote(urlparse(urls[site]).path))


def _outcome(batch: Batch, r: Any, max_examples: int) -> ExpectationOutcome:
    config = r.expectation_config
    kwargs = config.kwargs
    meta = config.meta or {}
    column = meta.get("column") or kwargs.get("column")
    if column is None and kwargs.get("column_list"):
        column = ",".join(kwargs["column_list"])
    details: dict[str, Any] = r.result or {}
    unexpected = details.get("unexpected_count")
    examples = [_show(v) for v in _distinct(details.get("partial_unexpected_list") or [])[:max_examples]]
    if unexpected is None and not r.success and "observed_value" in details:
        examples = [_show(details["observed_value"], quote=False)]
    return ExpectationOutcome(
        table=batch.table,
        source=batch.source,
        name=str(config.type),
        description=str(config.description or config.type),
        column=column,
        success=bool(r.success),
        unexpected_count=None if unexpected is None else int(unexpected),
        element_count=None if unexpected is None else _int_or_none(details.get("element_count")),
        examples=examples,
        error=_exception_message(r.exception_info),
    )


def _exception_message(info: Any) -> str | None:
    """GX reports exceptions flat or keyed by metric; return the first message, if any."""
    if not isinstance(info, dict):
        return None
    candidates = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for item in candidates:
        if item.get("raised_exception"):
            message = str(item.get("exception_message") or "error").strip()
            return message.splitlines()[0][:300]
    return None


def _distinct(values: list[Any]) -> list[Any]:
    """``values`` without repeats (by their rendering), first occurrence first."""
    seen: dict[str, Any] = {}
    for value in values:
        seen.setdefault(_show(value), value)
    return list(seen.values())


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _show(value: Any, limit: int = 80, *, quote: bool = True) -> str:
    """Render one offending value short and JSON-friendly."""
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_show(v, 40)}" for k, v in value.items()) + ")"
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value) if isinstance(value, str) and quote else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
