from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipeline.cli import app

VERSION = "v20261130t000000_cccccc"
ENV = {
    "GFM__HGNN__HIDDEN_DIM": "16",
    "GFM__HGNN__OUT_DIM": "16",
    "GFM__HGNN__FANOUTS": "[4, 2]",
    "GFM__HGNN__BATCH_SIZE": "64",
    "GFM__HGNN__DEVICE": "cpu",
}


def test_train_text_train_hgnn_and_embed_print_where_outputs_went(tiny_data: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tiny_data)]
    text = runner.invoke(app, [*base, "train", "text"], env=ENV)
    assert text.exit_code == 0, text.output
    assert "0 embedded" in text.output and "items.parquet" in text.output

    train = runner.invoke(app, [*base, "train", "hgnn", "--epochs", "1", "--version", VERSION], env=ENV)
    assert train.exit_code == 0, train.output
    assert "item-to-item HR@10: HGNN " in train.output, train.output  # the ranking check, not AUC
    assert (tiny_data / "models" / "hgnn" / VERSION / "card.json").exists()
    assert (tiny_data / "embeddings" / "hgnn" / VERSION / "items.parquet").exists()

    embed = runner.invoke(app, [*base, "embed", "--model", "hgnn"], env=ENV)
    assert embed.exit_code == 0, embed.output
    assert VERSION in embed.output


def test_embed_unknown_model_or_missing_checkpoint_exits_2_with_a_message(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["--data-dir", str(tmp_path), "embed", "--model", "bert"])
    assert unknown.exit_code == 2 and "unknown model" in unknown.output
    missing = runner.invoke(app, ["--data-dir", str(tmp_path), "embed", "--model", "hgnn"])
    assert missing.exit_code == 2 and "no hgnn checkpoint" in missing.output


def test_train_hgnn_without_marts_exits_2_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "train", "hgnn"], env=ENV)
    assert result.exit_code == 2 and "gfm transform" in result.output


def test_train_hgnn_applies_the_setup_gfm_run_chooses_but_never_over_a_users_setting(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the HGNN's marts and the manifest of a source without item text (as copied to a GPU machine)
    from datetime import UTC, datetime

    from ingest.manifest import RawManifest, SourceTraits, write_manifest

    traits = SourceTraits(**dict.fromkeys(SourceTraits.model_fields, False))  # IDs alone, like Yelp2018
    (tiny_data / "raw").mkdir(parents=True, exist_ok=True)
    write_manifest(
        RawManifest(
            source="lightgcn",
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
            window_start=datetime(2026, 1, 1, tzinfo=UTC),
            window_end=datetime(2026, 2, 1, tzinfo=UTC),
            content_types=["audiobook", "podcast"],
            fixed_split=True,
            traits=traits,
        ),
        tiny_data / "raw",
    )
    # a budget this graph exceeds, so without the flag its epochs would be cut (to 2)
    monkeypatch.setattr("pipeline.setup_choice.HGNN_CPU_EDGES", 1)
    env = {**ENV, "GFM__HGNN__SKETCH_DIM": "32"}  # set by the user: kept
    train = runner_invoke(tiny_data, ["train", "hgnn", "--epochs", "1", "--version", VERSION], env)
    assert train.exit_code == 0, train.output
    assert "setup: hgnn.text_features = False" in train.output
    assert "hgnn.sketch_dim" not in train.output
    assert "hgnn.epochs" not in train.output  # the flag is the user's setting too: no cut printed
    card = json.loads((tiny_data / "models" / "hgnn" / VERSION / "card.json").read_text())
    assert card["config"]["hgnn"]["text_features"] is False
    assert card["config"]["hgnn"]["sketch_dim"] == 32
    assert card["config"]["hgnn"]["epochs"] == 1


def runner_invoke(data_dir: Path, args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], env=env)
