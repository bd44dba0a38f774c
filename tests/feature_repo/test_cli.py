"""``gfm features apply | materialize | get | publish | versions`` through the Typer runner."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from pipeline.cli import app


def test_apply_materialize_get_publish_versions(tmp_path, monkeypatch) -> None:
    from fixtures.synthetic_marts import write_synthetic_marts

    monkeypatch.setenv("GFM__FEATURES__PROJECT", f"gfmtest_cli_{tmp_path.name[-8:].replace('-', '_')}")
    write_synthetic_marts(tmp_path / "marts")
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path), "features"]

    applied = runner.invoke(app, [*base, "apply"])
    assert applied.exit_code == 0, applied.output
    assert "user_activity" in applied.output
    assert (tmp_path / "feast" / "feature_store.yaml").exists()

    first = runner.invoke(app, [*base, "materialize"])
    assert first.exit_code == 0, first.output
    assert "2026-10-17" in first.output  # the synthetic training window end
    second = runner.invoke(app, [*base, "materialize"])
    assert "already up to date" in second.output

    got = runner.invoke(app, [*base, "get", "--entity", "item", "--ids", "1,2,999"])
    assert got.exit_code == 0, got.output
    assert "item_stats (online)" in got.output and "missing" in got.output, got.output

    from embedding_jobs.export import write_vectors  # the contract's export writer

    vectors = np.ones((3, 128), dtype=np.float32)
    version = "v20261005t000000_dddddd"
    write_vectors(
        tmp_path / "embeddings" / "hgnn" / version / "items.parquet",
        "item_id",
        np.arange(1, 4),
        vectors,
        version,
    )
    published = runner.invoke(app, [*base, "publish", "--model", "hgnn", "--version", version])
    assert published.exit_code == 0, published.output
    listed = runner.invoke(app, [*base, "versions"])
    assert f"* hgnn       item  {version}" in listed.output

    embedding = runner.invoke(
        app, [*base, "get", "--entity", "item", "--ids", "1", "--view", f"hgnn_item_embeddings_{version}"]
    )
    assert "128 dims" in embedding.output


def test_bad_input_exits_with_a_short_message(tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "features", "materialize", "--end", "yesterday"]
    )
    assert result.exit_code == 2
    assert "not an ISO-8601 timestamp" in result.output
    missing = runner.invoke(app, ["--data-dir", str(tmp_path), "features", "apply"])
    assert missing.exit_code == 2
    assert "run `gfm transform` first" in missing.output
