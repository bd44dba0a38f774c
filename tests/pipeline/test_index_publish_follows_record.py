"""Once the release record decides what is live, Milvus aliases no longer move by hand."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gfm import releases
from pipeline.cli import app

V1 = "v20261201t000000_aaaaaa"


def test_index_publish_is_refused_with_the_way_out_once_a_version_is_live(tmp_path: Path) -> None:
    releases.start_run(tmp_path, V1)
    releases.transition(tmp_path, V1, "gated")
    releases.begin_move(tmp_path, "publish", V1)
    releases.commit_move(tmp_path, "test")
    runner = CliRunner()
    for args in (
        ["index", "publish", "--model", "two_tower", "--version", V1],
        ["index", "load", "--model", "two_tower", "--version", "v20261202t000000_bbbbbb", "--live"],
    ):
        result = runner.invoke(app, ["--data-dir", str(tmp_path), *args])
        assert result.exit_code != 0, result.output
        if args[1] == "publish":
            assert "release record decides what is live" in result.output
            assert "gfm rollback" in result.output
