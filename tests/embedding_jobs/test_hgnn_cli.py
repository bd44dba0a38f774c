from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

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
