"""``gfm index load | versions | search | publish`` through Typer's runner, on Milvus Lite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from index_suite import V1, write_export
from typer.testing import CliRunner

from gfm.config import Config
from pipeline.cli import app
from vector_index import close_clients


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    write_export(Config.load(data_dir=tmp_path, environ={}), "two_tower", V1)
    yield tmp_path
    close_clients()


def test_load_live_then_search_items_and_users(data_dir: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(data_dir), "index"]
    loaded = runner.invoke(app, [*base, "load", "--model", "two_tower", "--version", V1, "--live"])
    assert loaded.exit_code == 0, loaded.output
    versions = json.loads(runner.invoke(app, [*base, "versions"]).stdout)
    assert {(v["entity"], v["live"], v["complete"]) for v in versions} == {
        ("item", True, True),
        ("user", True, True),
    }
    items = runner.invoke(app, [*base, "search", "--item-id", "20", "--type", "podcast", "-k", "3"])
    assert items.exit_code == 0, items.output
    assert len(json.loads(items.stdout)["results"]) == 3
    users = runner.invoke(app, [*base, "search", "--user-id", "7", "-k", "4"])
    assert len(json.loads(users.stdout)["results"]) == 4


def test_bad_type_and_unknown_version_exit_2_with_a_message(data_dir: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(data_dir), "index"]
    runner.invoke(app, [*base, "load", "--model", "two_tower", "--version", V1, "--entity", "item", "--live"])
    bad = runner.invoke(app, [*base, "search", "--item-id", "20", "--type", 'x" or true'])
    assert bad.exit_code == 2 and "unknown content type" in bad.output
    missing = runner.invoke(
        app, [*base, "publish", "--model", "two_tower", "--version", "v20991231t000000_000000"]
    )
    assert missing.exit_code == 2 and "no such version" in missing.output
