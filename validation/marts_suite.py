"""The marts gate's expectations: graph and split invariants of the dbt marts (contracts, section 2).

The marts are read from the freshly built DuckDB file into pandas (GX's SQL datasource cannot run
on DuckDB, see STACK-NOTES), selecting only the columns the checks need. Cross-table checks are
computed by DuckDB as derived columns that hold the offending id and are null otherwise (e.g.
``unknown_src_item_id`` from a left join of the edges on ``dim_items``); the expectation on such a
column is ``ExpectColumnValuesToBeNull``, so a failure reports how many rows and which ids.

Checked: no self-loops; edges between known items only, with the endpoints' content types and the
contract's orientation; ``n_co_users >= min_support``; the eval window starts after the last
training event; every user and item of the facts and feature snapshots is in the dimensions;
``dim_items``/``dim_users`` have as many rows as the landing (staging) tables; keys unique; the
training window, the item graph and the evaluation window are not empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import great_expectations.expectations as gxe
import pandas as pd

from gfm.config import GraphConfig
from gfm.errors import StageError
from validation.engine import Batch
from validation.expectations import expect

MARTS = (
    "dim_items",
    "dim_users",
    "fct_interactions",
    "fct_eval_interactions",
    "fct_item_edges",
    "user_features_daily",
    "item_features_daily",
)
#: The dimension and the landing (staging) table whose row counts must match.
LANDING = {"dim_items": "stg_landing__items", "dim_users": "stg_landing__users"}

_EDGES_SQL = """
select e.src_item_id, e.dst_item_id, e.src_type, e.dst_type, e.relation, e.n_co_users,
    case when e.src_item_id = e.dst_item_id then e.src_item_id end as self_loop_item_id,
    case when s.item_id is null then e.src_item_id end as unknown_src_item_id,
    case when d.item_id is null then e.dst_item_id end as unknown_dst_item_id,
    case when s.content_type is distinct from e.src_type and s.item_id is not null
         then e.src_item_id end as src_type_mismatch_item_id,
    case when d.content_type is distinct from e.dst_type and d.item_id is not null
         then e.dst_item_id end as dst_type_mismatch_item_id,
    case when e.src_type > e.dst_type or (e.src_type = e.dst_type and e.src_item_id > e.dst_item_id)
         then e.src_item_id end as misoriented_src_item_id,
    case when e.relation is distinct from e.src_type || '__' || e.dst_type then e.relation end as bad_relation
from fct_item_edges e
left join dim_items s on s.item_id = e.src_item_id
left join dim_items d on d.item_id = e.dst_item_id
"""


def _facts_sql(table: str, columns: str) -> str:
    # table and columns are module constants, never user input
    return f"""
select f.user_id, f.item_id, {columns},
    case when u.user_id is null then f.user_id end as unknown_user_id,
    case when i.item_id is null then f.item_id end as unknown_item_id
from {table} f
left join dim_users u on u.user_id = f.user_id
left join dim_items i on i.item_id = f.item_id
"""


def _snapshot_sql(table: str, key: str, dim: str) -> str:
    return f"""
select f.{key}, f.feature_at, case when d.{key} is null then f.{key} end as unknown_{key}
from {table} f left join {dim} d on d.{key} = f.{key}
"""


def marts_batches(db_path: Path, graph: GraphConfig) -> list[Batch]:
    """Read the marts from ``db_path`` (read-only) and attach their expectations.

    Args:
        db_path: The DuckDB file dbt built (``warehouse/build.duckdb``).
        graph: Edge settings (``min_support``).

    Returns:
        One :class:`Batch` per mart.

    Raises:
        StageError: When the file, a mart or a landing table is missing.

    """
    if not db_path.is_file():
        raise StageError(f"warehouse file not found: {db_path}")
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        present = {
            row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()
        }
        missing = [t for t in (*MARTS, *LANDING.values()) if t not in present]
        if missing:
            raise StageError(f"{db_path}: missing relation(s) {missing}")
        landing = {dim: _count(con, table) for dim, table in LANDING.items()}
        train_last = con.execute("select max(last_event_at) from fct_interactions").fetchone()
        frames = {
            "dim_items": con.execute("select item_id, content_type from dim_items").df(),
            "dim_users": con.execute("select user_id from dim_users").df(),
            "fct_interactions": con.execute(
                _facts_sql("fct_interactions", "f.first_event_at, f.last_event_at")
            ).df(),
            "fct_eval_interactions": con.execute(
                _facts_sql("fct_eval_interactions", "f.first_event_at")
            ).df(),
            "fct_item_edges": con.execute(_EDGES_SQL).df(),
            "user_features_daily": con.execute(
                _snapshot_sql("user_features_daily", "user_id", "dim_users")
            ).df(),
            "item_features_daily": con.execute(
                _snapshot_sql("item_features_daily", "item_id", "dim_items")
            ).df(),
        }
    finally:
        con.close()
    last = pd.Timestamp(train_last[0]) if train_last and train_last[0] is not None else None
    checks = _checks(graph, landing, last)
    source = str(db_path)
    return [Batch(table=t, source=f"{source}::{t}", frame=frames[t], expectations=checks[t]) for t in MARTS]


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"select count(*) from {table}").fetchone()  # table: a module constant
    return int(row[0]) if row else 0


def _keys(table: str, *columns: str) -> list[Any]:
    checks = [
        expect(gxe.ExpectColumnValuesToNotBeNull, f"{table}.{c} is not null", column=c) for c in columns
    ]
    if len(columns) == 1:
        checks.append(expect(gxe.ExpectColumnValuesToBeUnique, f"{columns[0]} is unique", column=columns[0]))
    else:
        checks.append(
            expect(gxe.ExpectCompoundColumnsToBeUnique, f"({', '.join(columns)}) is unique",
                   column=",".join(columns), column_list=list(columns))
        )  # fmt: skip
    return checks


def _known(*keys: str) -> list[Any]:
    dims = {"user_id": "dim_users", "item_id": "dim_items"}
    return [
        expect(
            gxe.ExpectColumnValuesToBeNull, f"{key} exists in {dims[key]}", column=key, on=f"unknown_{key}"
        )
        for key in keys
    ]


def _checks(
    graph: GraphConfig, landing: dict[str, int], train_last: pd.Timestamp | None
) -> dict[str, list[Any]]:
    null = gxe.ExpectColumnValuesToBeNull
    edges = [
        *_keys("fct_item_edges", "src_item_id", "dst_item_id"),
        expect(null, "no self-loops (src_item_id = dst_item_id)", column="src_item_id", on="self_loop_item_id"),
        expect(null, "src_item_id exists in dim_items", column="src_item_id", on="unknown_src_item_id"),
        expect(null, "dst_item_id exists in dim_items", column="dst_item_id", on="unknown_dst_item_id"),
        expect(null, "src_type is the item's dim_items.content_type", column="src_type",
               on="src_type_mismatch_item_id"),
        expect(null, "dst_type is the item's dim_items.content_type", column="dst_type",
               on="dst_type_mismatch_item_id"),
        expect(null, "types in alphabetical order, and src_item_id < dst_item_id within a type",
               column="src_item_id", on="misoriented_src_item_id"),
        expect(null, "relation is '<src_type>__<dst_type>'", column="relation", on="bad_relation"),
        expect(gxe.ExpectColumnValuesToBeBetween, f"n_co_users >= min_support ({graph.min_support})",
               column="n_co_users", min_value=graph.min_support),
        expect(gxe.ExpectTableRowCountToBeBetween,
               "the item graph has at least one edge (with none there is nothing to train on)", min_value=1),
    ]  # fmt: skip
    eval_checks = [
        *_keys("fct_eval_interactions", "user_id", "item_id"),
        *_known("user_id", "item_id"),
        expect(gxe.ExpectTableRowCountToBeBetween,
               "the evaluation window has at least one interaction (with none nothing can be evaluated)",
               min_value=1),
    ]  # fmt: skip
    if train_last is not None:
        eval_checks.append(
            expect(gxe.ExpectColumnValuesToBeBetween,
                   f"eval window starts after the last training event ({train_last.isoformat()})",
                   column="first_event_at", min_value=train_last, strict_min=True)
        )  # fmt: skip
    rows = gxe.ExpectTableRowCountToEqual
    return {
        "dim_items": [
            *_keys("dim_items", "item_id"),
            expect(gxe.ExpectColumnValuesToNotBeNull, "content_type is not null", column="content_type"),
            expect(
                rows,
                f"as many rows as the landing items ({landing['dim_items']})",
                value=landing["dim_items"],
            ),
        ],
        "dim_users": [
            *_keys("dim_users", "user_id"),
            expect(
                rows,
                f"as many rows as the landing users ({landing['dim_users']})",
                value=landing["dim_users"],
            ),
        ],
        "fct_interactions": [
            *_keys("fct_interactions", "user_id", "item_id"),
            *_known("user_id", "item_id"),
            expect(gxe.ExpectTableRowCountToBeBetween, "the training window is not empty", min_value=1),
        ],
        "fct_eval_interactions": eval_checks,
        "fct_item_edges": edges,
        "user_features_daily": [*_keys("user_features_daily", "user_id", "feature_at"), *_known("user_id")],
        "item_features_daily": [*_keys("item_features_daily", "item_id", "feature_at"), *_known("item_id")],
    }
