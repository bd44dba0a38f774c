"""Run the repository's dbt project as a subprocess and read back what it did.

dbt runs as a child Python process (what the ``dbt`` script runs) rather than through ``dbtRunner``:
dbt keeps global state (flags, adapters, logging) per process, a child's memory is freed when it
exits, and a crash there cannot take the caller down. Its ``run_results.json`` is the record of
the build (per-node status, failures and timings), kept for provenance. The child dies with its
parent: it runs in its own process group (killed on any exception here, Ctrl-C included) and,
on Linux, with ``PR_SET_PDEATHSIG`` so a ``kill -9`` of gfm takes dbt down too instead of
leaving it to write the warehouse beside the rerun.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gfm.errors import StageError

#: The dbt project: models, macros, generic tests and the in-repo profile.
DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"

# "12 of 80 OK created sql table model main.dim_users ...": dbt's per-node progress lines
_PROGRESS_RE = re.compile(r"\b(\d+) of (\d+) (OK|PASS|FAIL|ERROR|WARN|SKIP)\b(.*)")
_FAILED = {"error", "fail", "runtime error"}
_PR_SET_PDEATHSIG = 1  # prctl(2)
_PARENT_ENV = "GFM_PARENT_PID"

# The child sets its own death signal, after exec. A ``preexec_fn`` would run Python between fork
# and exec, where a threaded parent's fork handlers run too: with grpc loaded (Feast, pymilvus)
# the child aborted there ("epoll_wait error: Bad file descriptor", SIGABRT, before dbt started).
_GUARD = (
    "import ctypes, os, signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    f"    ctypes.CDLL(None, use_errno=True).prctl({_PR_SET_PDEATHSIG}, signal.SIGKILL)\n"
    f"    if os.getppid() != int(os.environ.get('{_PARENT_ENV}', os.getppid())):\n"
    "        os._exit(1)  # the parent died before prctl took effect\n"
)


def dying_with_parent(code: str) -> str:
    """Python source for ``python -c`` that gets SIGKILL when its parent dies, even by ``kill -9``.

    The parent passes its pid as ``GFM_PARENT_PID`` in the child's environment. ``PR_SET_PDEATHSIG``
    is Linux's; elsewhere only the process group (``_kill_group`` on an exception) applies. dbt-duckdb
    builds in threads of the one child, so no grandchild is left; dbt-spark's JVM (pyspark's
    gateway) exits when its parent's pipe closes, and shares the group.
    """
    return _GUARD + code


# what the `dbt` console script runs (`python -m dbt.cli.main` warns from runpy)
_DBT_MAIN = dying_with_parent("from dbt.cli.main import cli; sys.exit(cli())")

ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SparkTarget:
    """Where and how the profile's ``spark`` target runs (read by ``profiles.yml``).

    Attributes:
        warehouse: The Spark warehouse folder; each table is a Parquet folder
            ``<warehouse>/analytics.db/<model>``.
        master: The Spark master (``local[2]``: in-process, two cores).
        driver_memory: The driver JVM's heap (``2g``).

    """

    warehouse: Path
    master: str = "local[2]"
    driver_memory: str = "2g"

    def env(self) -> dict[str, str]:
        """The environment variables ``profiles.yml`` reads for the ``spark`` target."""
        return {
            "GFM_DBT_SPARK_WAREHOUSE": str(self.warehouse.resolve()),
            "GFM_DBT_SPARK_MASTER": self.master,
            "GFM_DBT_SPARK_DRIVER_MEMORY": self.driver_memory,
        }


@dataclass(frozen=True)
class NodeResult:
    """One model or test of a dbt invocation (from ``run_results.json``)."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    execution_time: float
    failures: int | None
    message: str | None


@dataclass
class DbtInvocation:
    """What one dbt command did."""

    command: str
    returncode: int
    wall_s: float
    nodes: list[NodeResult] = field(default_factory=list)
    run_results_path: Path | None = None
    output_tail: str = ""

    @property
    def failed(self) -> list[NodeResult]:
        """Nodes that errored or whose test failed."""
        return [n for n in self.nodes if n.status in _FAILED]

    def timings(self) -> dict[str, float]:
        """Return execution seconds per model (tests left out), slowest first."""
        models = [n for n in self.nodes if n.resource_type == "model"]
        return {n.name: round(n.execution_time, 3) for n in sorted(models, key=lambda n: -n.execution_time)}


def run_dbt(
    command: list[str],
    *,
    db_path: Path,
    target_dir: Path,
    log_dir: Path,
    dbt_vars: dict[str, Any],
    on_progress: ProgressCallback | None = None,
    spark: SparkTarget | None = None,
) -> DbtInvocation:
    """Run one dbt command (e.g. ``["build"]`` or ``["docs", "generate"]``) on a DuckDB file or Spark.

    Args:
        command: The dbt sub-command and its own arguments.
        db_path: The DuckDB file the profile points at (``GFM_DBT_DB_PATH``).
        target_dir: dbt's target folder (compiled SQL, ``run_results.json``, docs).
        log_dir: dbt's log folder.
        dbt_vars: Passed as ``--vars`` (JSON).
        on_progress: Called with (done, total, line) on every finished node.
        spark: Run on the profile's ``spark`` target (a local Spark session, see
            :class:`SparkTarget`) instead of the DuckDB file; ``db_path`` is then unused.

    Returns:
        The invocation, whether or not it succeeded; see :func:`raise_on_failure`.

    """
    target_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    stale = target_dir / "run_results.json"
    stale.unlink(missing_ok=True)
    args = [
        sys.executable, "-c", _DBT_MAIN, *command,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_dir.resolve()), "--log-path", str(log_dir.resolve()),
        "--vars", json.dumps(dbt_vars), "--no-use-colors",
        "--target", "local" if spark is None else "spark",
    ]  # fmt: skip
    env = {
        **os.environ,
        "GFM_DBT_DB_PATH": str(db_path.resolve()),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_VERSION_CHECK": "false",
        "DO_NOT_TRACK": "1",
        _PARENT_ENV: str(os.getpid()),
    }
    if spark is not None:
        env.update(spark.env())
    tail: deque[str] = deque(maxlen=60)
    done = 0
    started = time.perf_counter()
    with subprocess.Popen(
        args,
        cwd=log_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        process_group=0,
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                tail.append(line.rstrip())
                match = _PROGRESS_RE.search(line)
                if match and on_progress is not None:
                    done += 1
                    on_progress(done, int(match.group(2)), line.strip())
            returncode = proc.wait()
        except BaseException:
            _kill_group(proc.pid)  # e.g. Ctrl-C: dbt's own group no longer gets the terminal's signal
            raise
    invocation = DbtInvocation(
        command=" ".join(command),
        returncode=returncode,
        wall_s=round(time.perf_counter() - started, 3),
        output_tail="\n".join(tail),
    )
    if stale.exists():
        invocation.run_results_path = stale
        invocation.nodes = _read_nodes(stale)
    return invocation


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def raise_on_failure(invocation: DbtInvocation) -> None:
    """Raise a readable StageError naming every failed model or test of a failed invocation.

    Raises:
        StageError: When dbt exited non-zero.

    """
    if invocation.returncode == 0:
        return
    failed = invocation.failed
    if failed:
        lines = [
            f"- {n.resource_type} {n.name}: {n.status}"
            + (f" ({n.failures} failing rows)" if n.failures else "")
            + (f": {_brief(n.message)}" if n.message else "")
            for n in failed
        ]
        detail = "\n".join(lines)
    else:
        detail = invocation.output_tail[-3000:]
    where = f"\nrun results: {invocation.run_results_path}" if invocation.run_results_path else ""
    raise StageError(f"dbt {invocation.command} failed ({len(failed)} failed nodes):\n{detail}{where}")


def _read_nodes(path: Path) -> list[NodeResult]:
    data = json.loads(path.read_text(encoding="utf-8"))
    nodes = []
    for r in data.get("results", []):
        unique_id = str(r.get("unique_id", ""))
        parts = unique_id.split(".")
        nodes.append(
            NodeResult(
                unique_id=unique_id,
                name=parts[2] if len(parts) > 2 else unique_id,  # test ids end with a hash
                resource_type=parts[0] if parts else "",
                status=str(r.get("status", "")),
                execution_time=float(r.get("execution_time") or 0.0),
                failures=r.get("failures"),
                message=r.get("message"),
            )
        )
    return nodes


def _brief(text: str, n_lines: int = 3) -> str:
    lines = [s.strip() for s in text.strip().splitlines() if s.strip()]
    return " | ".join(lines[:n_lines])[:500]
