"""What a gate reports: one outcome per expectation, a readable summary and a JSON record.

Pure Python (no Great Expectations import), so other stages can read and type against these
classes without paying for GX's import time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gfm.errors import GateFailedError


@dataclass
class ExpectationOutcome:
    """The result of one expectation on one table.

    Attributes:
        table: The table (or file) the expectation ran on, e.g. ``interactions``.
        source: Where that table came from (a raw folder, ``<db>::<table>``, a Parquet file).
        name: The expectation type, e.g. ``expect_column_values_to_be_unique``.
        description: What the expectation checks, in words.
        column: The contract column it is about (None for table-level checks).
        success: Whether it passed.
        unexpected_count: Rows that broke it (None for aggregate checks).
        element_count: Rows it looked at (None for aggregate checks).
        examples: A few offending values (or the observed value of an aggregate check).
        error: The exception message when GX could not evaluate it (e.g. a missing column).

    """

    table: str
    source: str
    name: str
    description: str
    column: str | None
    success: bool
    unexpected_count: int | None = None
    element_count: int | None = None
    examples: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        """One readable line: table, column, check, how many rows and a few examples."""
        where = f"{self.table} ({self.source})" + (f", column {self.column!r}" if self.column else "")
        text = f"{where}: {self.description} [{self.name}]"
        if self.error:
            return f"{text}: could not be evaluated: {self.error}"
        if self.unexpected_count is not None:
            total = f" of {self.element_count}" if self.element_count is not None else ""
            text += f": {self.unexpected_count}{total} rows"
        if self.examples:
            label = "e.g." if self.unexpected_count is not None else "observed"
            text += f", {label} " + ", ".join(self.examples)
        return text


@dataclass
class GateResult:
    """Everything one gate run found; JSON-serialisable through :meth:`to_dict`.

    Attributes:
        stage: ``raw``, ``marts`` or ``embeddings``.
        success: True when every expectation passed.
        expectations: One outcome per expectation, in suite order.
        docs_path: The HTML Data Docs index (None when Data Docs are switched off).
        summary_path: The JSON record of this run.
        run_at: When the run started (ISO-8601, UTC).
        elapsed_s: Wall time of the gate, GX import excluded.
        row_counts: Rows validated per table.

    """

    stage: str
    success: bool
    expectations: list[ExpectationOutcome]
    docs_path: str | None = None
    summary_path: str | None = None
    run_at: str = ""
    elapsed_s: float = 0.0
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        """The expectations that failed."""
        return [e for e in self.expectations if not e.success]

    def summary(self) -> str:
        """One line per failed expectation (or a one-line all-clear)."""
        if self.success:
            return f"{self.stage}: all {len(self.expectations)} expectations passed"
        return "\n".join(f"- {e.line()}" for e in self.failures)

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict of built-in types (what the provenance card stores)."""
        return asdict(self)

    def write_json(self, path: Path) -> Path:
        """Write :meth:`to_dict` as indented JSON to ``path`` and return it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        return path


class GateFailed(GateFailedError):
    """A :class:`gfm.errors.GateFailedError` that also carries the full :class:`GateResult`."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        super().__init__(result.stage, result.summary(), result.docs_path)


def raise_if_failed(result: GateResult) -> GateResult:
    """Return ``result`` when it passed; raise :class:`GateFailed` otherwise."""
    if not result.success:
        raise GateFailed(result)
    return result
