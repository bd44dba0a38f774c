"""Expectation helpers: the one custom expectation, and a builder that attaches readable metadata.

Great Expectations' own ``ExpectColumnValuesToBeInTypeList`` cannot match a timezone-aware pandas
dtype (``datetime64[ns, UTC]`` compares unequal to every type it resolves from a name), so the
schema check uses :class:`ExpectColumnDtypeToBeIn`, a small batch expectation over GX's own
``table.column_types`` metric that compares dtype *names*.
"""

from __future__ import annotations

from typing import Any

from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.expectations.expectation import Expectation as GxExpectation

# Accepted pandas dtype names per contract kind (ingest.schema.Kind). Arrow-backed frames give
# microsecond timestamps, pandas-made ones nanoseconds; both are the contract's TIMESTAMP UTC.
DTYPES: dict[str, list[str]] = {
    "id": ["int64", "Int64", "int64[pyarrow]"],
    "int": ["int64", "Int64", "int64[pyarrow]"],
    "text": ["object", "string", "str", "string[python]", "string[pyarrow]"],
    "timestamp": [f"datetime64[{unit}, UTC]" for unit in ("ns", "us", "ms", "s")],
    "float": ["float64", "float32", "Float64"],
    "bool": ["bool", "boolean"],
}


class ExpectColumnDtypeToBeIn(BatchExpectation):
    """Expect a column to exist and its dtype name to be one of ``dtypes``.

    Args:
        column: The column name.
        dtypes: Accepted dtype names, e.g. ``["int64", "Int64"]``.

    """

    column: str
    dtypes: list[str]

    metric_dependencies = ("table.column_types",)
    success_keys = ("column", "dtypes")
    args_keys = ("column", "dtypes")

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        kwargs = self.configuration.kwargs
        observed = {str(t["name"]): str(t["type"]) for t in metrics["table.column_types"]}
        actual = observed.get(kwargs["column"])
        if actual is None:
            return {"success": False, "result": {"observed_value": "column missing"}}
        return {"success": actual in kwargs["dtypes"], "result": {"observed_value": actual}}


def expect(
    cls: type[GxExpectation],
    description: str,
    *,
    column: str | None = None,
    on: str | None = None,
    **kwargs: Any,
) -> Any:
    """Build a GX expectation that carries a human description and the contract column.

    Args:
        cls: The expectation class, e.g. ``gxe.ExpectColumnValuesToBeUnique``.
        description: What is checked, in words (shown in Data Docs and the summary).
        column: The contract column this is about (recorded in ``meta``; also the GX column
            unless ``on`` is given).
        on: The column GX evaluates when it differs from ``column``: a derived column that holds
            the offending value, e.g. ``unknown_user_id`` for a referential check on ``user_id``.
        **kwargs: The expectation's own arguments.

    Returns:
        The expectation instance.

    """
    if on is not None:
        kwargs["column"] = on
    elif column is not None and "column_list" not in kwargs:
        kwargs["column"] = column
    return cls(description=description, meta={"column": column}, **kwargs)
