"""gfm generate / gfm import through the real CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ingest.manifest import read_manifest
from pipeline.cli import app

runner = CliRunner()


def _squeezed(text: str) -> str:
    """Text without whitespace: the console wraps long lines (a long tmp path) at its width."""
    return "".join(text.split())


def test_generate_prints_row_counts_and_writes_raw(tmp_path):
    args = ["--data-dir", str(tmp_path), "generate", "--seed", "3", "--users", "150", "--podcasts", "80"]
    result = runner.invoke(app, [*args, "--audiobooks", "30", "--days", "60"])
    assert result.exit_code == 0, result.output
    assert "interactions" in result.output and "150" in result.output
    assert _squeezed(f"written to {(tmp_path / 'raw').resolve()}") in _squeezed(result.output)
    manifest = read_manifest(tmp_path / "raw")
    assert manifest.seed == 3
    assert (manifest.window_end - manifest.window_start).days == 60


def test_generate_communities_mode_from_the_cli(tmp_path):
    args = [
        "--data-dir",
        str(tmp_path),
        "generate",
        "--users",
        "120",
        "--podcasts",
        "80",
        "--audiobooks",
        "30",
    ]
    args += ["--tastes", "communities", "--audio-courses", "20", "--text-signal", "0.5", "--communities", "6"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _squeezed("content types audio_course, audiobook, podcast") in _squeezed(result.output)
    generator = read_manifest(tmp_path / "raw").generator
    assert generator is not None
    assert (generator["tastes"], generator["text_signal"], generator["communities"]) == (
        "communities",
        0.5,
        6,
    )
    assert (tmp_path / "raw" / "_truth" / "item_groups.parquet").is_file()


def test_generate_refuses_a_communities_knob_in_the_topics_mode(tmp_path):
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "generate", "--users", "50", "--text-signal", "0.5"]
    )
    assert result.exit_code != 0
    assert _squeezed("text_signal: set only with tastes='communities'") in _squeezed(result.output)
    assert "Traceback" not in result.output


def test_import_with_a_missing_path_fails_with_a_short_message(tmp_path):
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "import", "movielens", "--path", str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert _squeezed("MovieLens folder not found") in _squeezed(result.output)
    assert "Traceback" not in result.output


def test_import_rejects_an_unknown_source(tmp_path):
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "import", "netflix"])
    assert result.exit_code != 0


@pytest.mark.shared_data
def test_import_movielens_from_the_cli(tmp_path, shared_data):
    src = shared_data / "movielens_ml_latest_small"
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "import", "movielens", "--path", str(src)])
    assert result.exit_code == 0, result.output
    assert "104,519" in result.output
    assert read_manifest(tmp_path / "raw").source == "movielens"
