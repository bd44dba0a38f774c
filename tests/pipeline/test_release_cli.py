"""``gfm rollback``, ``gfm gc`` and ``gfm audit`` on a data dir with no stores yet."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gfm import releases
from pipeline.audit import append_audit, read_audit
from pipeline.cli import app

V1 = "v20261201t000000_aaaaaa"


def test_rollback_by_alias_is_refused_with_the_new_form(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "rollback", "item/two_tower", V1])
    assert result.exit_code != 0
    assert "gfm rollback <version>" in result.output


def test_rollback_to_a_version_never_published_is_refused(tmp_path: Path) -> None:
    releases.start_run(tmp_path, V1)
    releases.transition(tmp_path, V1, "failed", "a gate")
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "rollback", V1])
    assert result.exit_code != 0 and "never published" in result.output
    assert read_audit(tmp_path) == []  # a refusal changes nothing and audits nothing


def test_gc_on_an_empty_data_dir_removes_nothing_and_is_audited(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "gc", "--reason", "weekly"])
    assert result.exit_code == 0, result.output
    assert "nothing to remove" in result.output
    (entry,) = read_audit(tmp_path)
    assert entry["action"] == "gc" and entry["why"] == "weekly"


def test_audit_appends_in_order_and_skips_a_torn_last_line(tmp_path: Path) -> None:
    append_audit(tmp_path, "team-a", "token", {"team": "team-a", "scope": "search"}, "onboarding")
    append_audit(tmp_path, None, "forget", {"user_id": 7}, "GDPR request 12")
    with (tmp_path / "audit.jsonl").open("a") as fh:
        fh.write('{"at": "2026-12-03T')  # a crash mid-write
    assert [e["action"] for e in read_audit(tmp_path)] == ["token", "forget"]
    append_audit(tmp_path, None, "gc", {}, "after the crash")
    entries = read_audit(tmp_path)
    assert [e["action"] for e in entries] == ["token", "forget", "gc"]
    assert entries[0]["actor"] == "team-a" and entries[1]["actor"]  # the OS user
    out = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "audit", "--json", "--last", "1"])
    assert [json.loads(line)["why"] for line in out.output.splitlines()] == ["after the crash"]
