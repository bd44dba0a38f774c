"""The Spark engine's side of ``gfm transform``: dbt on a local Spark, marts into the build file.

With ``warehouse.engine: spark`` the dbt project runs on the profile's ``spark`` target (a local
Spark session, see ``dbt_project/profiles.yml``): the same models, macros and data tests, the
engine-specific SQL dispatched in the macros. Spark writes each table as a Parquet folder under
its warehouse folder. :func:`load_spark_marts` then copies those tables (staging and marts) into
the DuckDB build file, so the marts gate, the Parquet export and the analysts' ``gfm.duckdb`` are
the same for both engines (the intermediate models are views, so that file lacks them).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

from gfm.errors import StageError
from warehouse.promote import MARTS

#: The schema of the profile's spark target; Spark keeps its tables under ``<warehouse>/<schema>.db``.
SPARK_SCHEMA = "analytics"
MIN_JAVA = 17
_MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,127}$")


def spark_missing() -> list[str]:
    """What the Spark engine needs and this machine lacks (empty when it can run).

    Returns:
        One line per missing piece: the ``[spark]`` extra's packages, or a Java 17+ runtime.

    """
    missing = [
        f"the Python package {dist} (pip install -e '.[spark]')"
        for module, dist in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark"))
        if not _importable(module)
    ]
    java = shutil.which("java")
    if java is None:
        missing.append(
            f"a Java {MIN_JAVA}+ runtime on PATH (Debian: apt-get install openjdk-{MIN_JAVA}-jre-headless)"
        )
    else:
        version = java_version(java)
        if version is not None and version < MIN_JAVA:
            missing.append(f"Java {MIN_JAVA}+ ({java} is Java {version})")
    return missing


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def java_version(java: str) -> int | None:
    """The major version of a ``java`` binary (``17`` for ``openjdk version "17.0.15"``), None if unreadable."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in (out.stderr + out.stdout).splitlines():
        if "version" in line and '"' in line:
            number = line.split('"')[1]
            major = number.split(".")[1] if number.startswith("1.") else number.split(".")[0]
            return int(major) if major.isdigit() else None
    return None


def require_spark() -> None:
    """Raise unless the Spark engine can run here.

    Raises:
        StageError: Naming every missing piece (packages, Java).

    """
    missing = spark_missing()
    if missing:
        raise StageError("warehouse.engine is spark, but this machine lacks: " + "; ".join(missing))


def load_spark_marts(spark_warehouse: Path, build_db: Path) -> dict[str, int]:
    """Copy every table Spark built into ``build_db`` as ``main.<table>`` (the DuckDB build's layout).

    Args:
        spark_warehouse: The Spark warehouse folder of the build (``SparkTarget.warehouse``).
        build_db: The DuckDB build file to create (it must not exist yet).

    Returns:
        Rows per table.

    Raises:
        StageError: If Spark wrote no Parquet files for a mart.

    """
    import duckdb

    schema_dir = spark_warehouse / f"{SPARK_SCHEMA}.db"
    tables = sorted(p.name for p in schema_dir.glob("*") if p.is_dir() and any(p.glob("*.parquet")))
    missing = sorted(set(MARTS) - set(tables))
    if missing:
        raise StageError(f"Spark wrote no Parquet files for the marts {missing} under {schema_dir}")
    counts: dict[str, int] = {}
    with duckdb.connect(str(build_db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        for table in tables:
            if not _MODEL_NAME.match(table):  # dbt model names only; never pasted otherwise
                raise StageError(f"unexpected table folder {table!r} under {schema_dir}")
            con.execute(
                f"create table main.{table} as select * from read_parquet($glob)",
                {"glob": str(schema_dir / table / "*.parquet")},
            )
            row = con.execute(f"select count(*) from main.{table}").fetchone()
            counts[table] = int(row[0]) if row else 0
        con.execute("checkpoint")
    return counts
