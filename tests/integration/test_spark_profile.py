"""The Spark engine of the data layer gives the DuckDB results: marts row for row, Feast point in time.

One small generated batch goes through ``gfm transform`` twice, once per ``warehouse.engine``
(the same dbt models and tests, the same gates and promotion), then through Feast historical
retrieval once per ``features.offline_store``. Spark runs locally (pyspark, a JVM per process);
without Java 17+ or the ``[spark]`` packages these tests FAIL naming what is missing, never skip.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from gfm.config import Config
from tests.fixtures.small_raw import make_small_raw
from warehouse import MARTS, run_transform
from warehouse.spark_marts import spark_missing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    # Feast says of its Spark source and offline store that they are alpha (every call warns)
    pytest.mark.filterwarnings("ignore:.*[Ss]park.*(experimental|alpha).*:RuntimeWarning"),
]

ENGINES = ("duckdb", "spark")
RUN_TIME_COLUMNS = {"created_at"}  # when the build ran: differs between any two builds


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Config]:
    """One raw batch, transformed and Feast-applied once per engine; the configs by engine."""
    missing = spark_missing()
    if missing:
        pytest.fail("the Spark profile needs: " + "; ".join(missing))
    from feature_repo.store.repo import apply_definitions

    root = tmp_path_factory.mktemp("spark_profile")
    raw = make_small_raw(root / "batch", users=200, podcasts=120, audiobooks=50)
    cfgs = {}
    for engine in ENGINES:
        data_dir = root / engine
        shutil.copytree(raw, data_dir / "raw")
        cfg = Config.load(
            data_dir=data_dir,
            environ={},
            overrides={
                "warehouse": {"engine": engine},
                "features": {"offline_store": engine, "project": f"gfm_{engine}"},
                "validation": {"build_data_docs": False},
            },
        )
        run_transform(cfg, show_progress=False)
        apply_definitions(cfg)
        cfgs[engine] = cfg
    return cfgs


def _sorted(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    return frame.sort_values(list(keys), kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("mart", list(MARTS))
def test_spark_marts_equal_duckdb_marts_row_for_row(built: dict[str, Config], mart: str) -> None:
    frames = {
        engine: pd.read_parquet(cfg.marts_dir / f"{mart}.parquet").drop(
            columns=list(RUN_TIME_COLUMNS), errors="ignore"
        )
        for engine, cfg in built.items()
    }
    duck, spark = frames["duckdb"], frames["spark"]
    assert len(duck) > 0
    assert list(spark.columns) == list(duck.columns)
    assert dict(spark.dtypes.astype(str)) == dict(duck.dtypes.astype(str))
    # the export sorts by the key; sort again so a tie order can never matter
    pd.testing.assert_frame_equal(
        _sorted(spark, MARTS[mart]), _sorted(duck, MARTS[mart]), rtol=1e-9, atol=1e-12
    )


def test_spark_build_passed_the_same_dbt_tests_and_gate(built: dict[str, Config]) -> None:
    import json

    records = {
        engine: json.loads((cfg.warehouse_path.parent / "transform.json").read_text())
        for engine, cfg in built.items()
    }
    assert records["spark"]["n_dbt_tests"] == records["duckdb"]["n_dbt_tests"] > 0
    assert records["spark"]["row_counts"] == records["duckdb"]["row_counts"]
    for engine, cfg in built.items():
        gate = json.loads((cfg.reports_dir / "validation" / "marts-latest.json").read_text())
        assert gate["success"] is True, engine


def test_feast_historical_retrieval_on_spark_equals_duckdb(built: dict[str, Config]) -> None:
    from feature_repo.store.training import get_training_frame

    duck_cfg = built["duckdb"]
    evals = pd.read_parquet(duck_cfg.marts_dir / "fct_eval_interactions.parquet")
    rows = evals.sample(n=min(300, len(evals)), random_state=0)[["user_id", "item_id", "first_event_at"]]
    entity_df = rows.rename(columns={"first_event_at": "event_timestamp"}).reset_index(drop=True)
    # rows no feature row can answer: an unknown user and item, and a time before the raw window
    first = entity_df.iloc[0]
    extra = pd.DataFrame(
        {
            "user_id": [99_999_999, int(first["user_id"])],
            "item_id": [int(first["item_id"]), 99_999_999],
            "event_timestamp": pd.Series(
                [first["event_timestamp"], pd.Timestamp("2020-01-01", tz="UTC")]
            ).astype(entity_df["event_timestamp"].dtype),
        }
    )
    entity_df = pd.concat([entity_df, extra], ignore_index=True)
    out = {engine: get_training_frame(cfg, entity_df) for engine, cfg in built.items()}
    duck, spark = out["duckdb"], out["spark"]
    assert len(duck) == len(spark) == len(entity_df)
    assert sorted(spark.columns) == sorted(duck.columns)
    spark = spark[duck.columns]
    feature_columns = [c for c in duck.columns if "__" in c]
    assert feature_columns and duck[feature_columns].notna().any().all()
    for column in duck.columns:
        a, b = duck[column], spark[column]
        assert a.isna().tolist() == b.isna().tolist(), column
        known = a.notna()
        if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            np.testing.assert_allclose(
                b[known].astype("float64"), a[known].astype("float64"), rtol=1e-9, err_msg=column
            )
        else:
            assert b[known].tolist() == a[known].tolist(), column
