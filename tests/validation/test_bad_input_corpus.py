"""Issue 10, item 3: every broken raw batch of the corpus is refused, and nothing live changes.

One good warehouse is built and promoted once (real dbt, real gates). Each case copies that data
directory, writes its broken batch as ``raw/`` and runs ``gfm transform``; the command must exit
with status 2 through a typed error that names the file (or table, or manifest field), the column
and a count, and the promoted warehouse, its landing files and the Parquet marts must be
byte-identical afterwards, with no scratch build left behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fixtures.bad_corpus import CORPUS, Case
from fixtures.raw_batch import clean_frames, write_raw_batch
from typer.testing import CliRunner, Result

from gfm.config import Config
from gfm.errors import GfmError, RawInputError
from pipeline.cli import app
from validation.results import GateFailed
from validation.volume import ShrinkRefused

runner = CliRunner()


@dataclass(frozen=True)
class Live:
    """The promoted data directory every case starts from, and its fingerprint."""

    data_dir: Path
    fingerprint: dict[str, str]


def fingerprint(data_dir: Path) -> dict[str, str]:
    """SHA-256 of every promoted file: the warehouse, its records, the landing files, the marts."""
    warehouse = data_dir / "warehouse"
    files = [
        warehouse / "gfm.duckdb",
        warehouse / "transform.json",
        warehouse / "dbt_run_results.json",
        *sorted((warehouse / "landing").iterdir()),
        *sorted((data_dir / "marts").iterdir()),
    ]
    return {str(f.relative_to(data_dir)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Live:
    from warehouse import run_transform

    cfg = Config(data_dir=tmp_path_factory.mktemp("corpus") / "data")
    write_raw_batch(cfg.raw_dir)
    run_transform(cfg, show_progress=False)
    return Live(cfg.data_dir, fingerprint(cfg.data_dir))


def test_the_corpus_has_fifty_named_cases_covering_every_class() -> None:
    names = [case.name for case in CORPUS]
    assert len(names) >= 50 and len(set(names)) == len(names)
    assert {case.error for case in CORPUS} == {RawInputError, GateFailed, ShrinkRefused}
    for required in ("csv_unescaped_inner_quotes", "signup_after_events", "shrink_to_three_events",
                     "three_events_allowed_to_shrink_build_no_edges", "no_events_in_the_evaluation_window"):  # fmt: skip
        assert required in names


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_bad_batch_is_refused_by_name_and_the_live_warehouse_is_untouched(
    case: Case, live: Live, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(live.data_dir, data, ignore=shutil.ignore_patterns("raw", "reports", "dbt_logs"))
    case.build(data / "raw")

    result = runner.invoke(app, ["--data-dir", str(data), "transform", *case.args])

    assert result.exit_code == 2, result.output
    error = _gfm_error(result)
    assert isinstance(error, case.error), f"{type(error).__name__}: {error}"
    _assert_names_what_is_wrong(case, error)
    for needle in case.needles:
        assert _has(result.output, needle), (needle, result.output)
    assert "Traceback" not in result.output
    assert fingerprint(data) == live.fingerprint
    warehouse = data / "warehouse"
    assert not (warehouse / "build.duckdb").exists() and not (warehouse / ".landing.next").exists()
    assert not list(data.glob(".marts.*"))


def test_allow_shrink_promotes_a_smaller_batch_and_swaps_its_landing_files_in(
    live: Live, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(live.data_dir, data, ignore=shutil.ignore_patterns("raw", "reports", "dbt_logs"))
    frames = clean_frames()
    frames["interactions"] = frames["interactions"].iloc[:180]  # 55 % fewer events than live
    write_raw_batch(data / "raw", frames)

    refused = runner.invoke(app, ["--data-dir", str(data), "transform"])
    assert refused.exit_code == 2 and isinstance(_gfm_error(refused), ShrinkRefused)
    assert fingerprint(data) == live.fingerprint

    allowed = runner.invoke(app, ["--data-dir", str(data), "transform", "--allow-shrink"])

    assert allowed.exit_code == 0, allowed.output
    assert _has(allowed.output, "accepted (--allow-shrink): interactions")
    landing = data / "warehouse" / "landing"
    assert pq.read_metadata(landing / "interactions.parquet").num_rows == 180
    record = json.loads((data / "warehouse" / "transform.json").read_text(encoding="utf-8"))
    assert record["landing_counts"]["interactions"] == 180
    assert record["dbt_vars"]["landing_dir"] == str(landing.resolve())
    assert (
        fingerprint(data)["marts/fct_item_edges.parquet"] != live.fingerprint["marts/fct_item_edges.parquet"]
    )
    assert sorted(p.name for p in (data / "warehouse").iterdir() if p.name.startswith(".")) == []


def _assert_names_what_is_wrong(case: Case, error: GfmError) -> None:
    if isinstance(error, RawInputError):
        assert Path(error.file).name == case.where
        assert (error.column, error.count) == (case.column, case.count)
    elif isinstance(error, ShrinkRefused):
        assert [(s.table, s.new) for s in error.shrinks] == [(case.where, case.count)]
    else:
        assert isinstance(error, GateFailed)
        matches = [
            f for f in error.result.failures
            if f.table == case.where and f.column == case.column and case.check in f.description
        ]  # fmt: skip
        assert matches, error.summary
        counted = matches[0].unexpected_count
        assert (counted if counted is not None else int(matches[0].examples[0])) == case.count
        assert matches[0].examples


def _gfm_error(result: Result) -> GfmError | None:
    """The typed error behind the CLI's exit status (the cause of its ``typer.Exit``)."""
    seen: BaseException | None = result.exception
    while seen is not None and not isinstance(seen, GfmError):
        seen = seen.__cause__ or seen.__context__
    return seen


def _has(output: str, text: str) -> bool:
    """Whether the output holds ``text``, ignoring the line breaks rich adds."""
    return "".join(text.split()) in "".join(output.split())
