"""Typed errors. Library code raises these; the CLI turns them into a short message and exit code 2."""

from __future__ import annotations


class GfmError(Exception):
    """Base class for every error gfm reports to a user."""


class RawInputError(GfmError):
    """A raw log file breaks the contract.

    Attributes:
        file: The offending file (or table) name.
        column: The offending column, if any.
        count: How many rows are affected (0 when the whole file is unreadable).
    """

    def __init__(self, message: str, *, file: str, column: str | None = None, count: int = 0) -> None:
        self.file = file
        self.column = column
        self.count = count
        where = f"{file}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {message}" + (f" ({count} rows)" if count else ""))


class GateFailedError(GfmError):
    """A validation gate failed; ``summary`` is the readable report, ``docs_path`` the Data Docs."""

    def __init__(self, stage: str, summary: str, docs_path: str | None = None) -> None:
        self.stage = stage
        self.summary = summary
        self.docs_path = docs_path
        tail = f"\nData Docs: {docs_path}" if docs_path else ""
        super().__init__(f"{stage} gate failed:\n{summary}{tail}")


class StageError(GfmError):
    """A pipeline stage could not run (missing inputs, failed dbt build, ...)."""


class NotFoundError(GfmError):
    """An unknown id, version, model or collection."""


class DimensionError(GfmError):
    """A vector of the wrong dimension, or containing NaN/Inf."""


class InvalidInputError(GfmError):
    """A caller's input breaks a documented contract (e.g. a Feast entity frame).

    Attributes:
        field: The offending column or argument.
        value: A sample of the offending value(s).
    """

    def __init__(self, message: str, *, field: str, value: object = None) -> None:
        self.field = field
        self.value = value
        tail = f" (got {value!r})" if value is not None else ""
        super().__init__(f"{field}: {message}{tail}")
