"""``gfm tokens create | list | revoke`` and ``gfm serve``'s public-bind refusal, through the runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipeline.audit import read_audit
from pipeline.cli import app


def test_token_is_shown_once_listed_without_secret_revoked_and_audited(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path), "tokens"]
    created = runner.invoke(
        app, [*base, "create", "--team", "web", "--scope", "search", "--reason", "launch"]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("gfm_")
    listed = runner.invoke(app, [*base, "list"])
    assert token not in listed.stdout
    (row,) = json.loads(listed.stdout)
    assert (row["team"], row["scopes"], row["revoked_at"]) == ("web", ["search"], None)
    assert token.split("_")[1] == row["token_id"]
    revoked = runner.invoke(app, [*base, "revoke", row["token_id"], "--reason", "rotated"])
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(runner.invoke(app, [*base, "list"]).stdout) == []
    assert len(json.loads(runner.invoke(app, [*base, "list", "--all"]).stdout)) == 1
    entries = [e for e in read_audit(tmp_path) if e["action"] == "token"]
    assert [(e["what"]["op"], e["why"]) for e in entries] == [("create", "launch"), ("revoke", "rotated")]
    assert all(token not in json.dumps(e) for e in entries)
    for path in tmp_path.rglob("*"):  # no file under the data dir holds the token
        assert not path.is_file() or token.encode() not in path.read_bytes(), path


def test_bad_scope_and_unknown_id_are_short_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path), "tokens"]
    bad = runner.invoke(app, [*base, "create", "--team", "web", "--scope", "root"])
    assert bad.exit_code != 0 and "root" in bad.output
    unknown = runner.invoke(app, [*base, "revoke", "abc"])
    assert unknown.exit_code == 2 and "abc" in unknown.output


def test_serve_on_all_interfaces_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to serve on 0.0.0.0" in result.output and "gfm tokens create" in result.output
