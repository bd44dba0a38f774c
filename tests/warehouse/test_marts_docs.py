"""Every column of every mart is described in its YAML, so the dbt docs explain each one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

MARTS = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts"
#: one column per content type in the data, described by the model's own description
PER_TYPE = re.compile(r"^n_streams_90d_\w+$")


def _documented() -> dict[str, dict[str, str]]:
    models: dict[str, dict[str, str]] = {}
    for path in MARTS.rglob("*.yml"):
        for model in yaml.safe_load(path.read_text())["models"]:
            assert (model.get("description") or "").strip(), (
                f"{path.name}: {model['name']} has no description"
            )
            models[model["name"]] = {
                c["name"]: (c.get("description") or "").strip() for c in model["columns"]
            }
    return models


def test_every_mart_column_in_the_warehouse_has_a_description(built: Any) -> None:  # conftest.Built
    documented = _documented()
    assert {"dim_items", "dim_users", "fct_item_edges", "user_features_daily"} <= set(documented)
    columns = built.query(
        "select table_name, column_name from information_schema.columns "
        f"where table_name in ({', '.join(repr(m) for m in documented)})"
    )
    assert set(columns.table_name) == set(documented)
    undocumented = [
        f"{row.table_name}.{row.column_name}"
        for row in columns.itertuples()
        if not documented[row.table_name].get(row.column_name) and not PER_TYPE.match(row.column_name)
    ]
    assert undocumented == []
    listed_but_absent = {
        f"{table}.{column}"
        for table, cols in documented.items()
        for column in cols
        if column not in set(columns.loc[columns.table_name == table, "column_name"])
    }
    assert listed_but_absent == set()
    assert "content type of src_item_id" in documented["fct_item_edges"]["src_type"].lower()
