"""``EmbeddingClient()`` with no argument, ``versions()``, ``content_types()``; the README's client names."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pandas as pd
import pytest

from feature_repo.client import EmbeddingClient
from feature_repo.store import catalog
from gfm.errors import NotFoundError

REPO = Path(__file__).resolve().parents[2]
V1, V2 = "v20261001t000000_aaaaaa", "v20261002t000000_bbbbbb"


def _data_dir(root: Path, types: list[str]) -> Path:
    marts = root / "marts"
    marts.mkdir(parents=True)
    items = pd.DataFrame({"item_id": range(len(types)), "content_type": types})
    items.to_parquet(marts / "dim_items.parquet", index=False)
    for version in (V1, V2):
        entry = catalog.Published(
            model="hgnn", entity="item", version=version, path="x.parquet", dim=8, rows=3, created_at=version
        )
        catalog.record(root / "feast", entry)
    return root


def test_no_argument_reads_gfm_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir(tmp_path / "elsewhere", ["podcast", "audiobook", "podcast"])
    monkeypatch.setenv("GFM_DATA_DIR", str(data))
    monkeypatch.delenv("GFM_CONFIG", raising=False)
    client = EmbeddingClient()
    assert client.content_types() == ["audiobook", "podcast"]
    assert client.current_versions() == {"hgnn": V2}


def test_no_argument_and_no_env_reads_the_default_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _data_dir(tmp_path / ".gfm", ["audio_course"])
    monkeypatch.delenv("GFM_DATA_DIR", raising=False)
    monkeypatch.delenv("GFM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert EmbeddingClient().content_types() == ["audio_course"]


def test_versions_lists_every_published_version_and_marks_the_current(tmp_path: Path) -> None:
    client = EmbeddingClient(_data_dir(tmp_path, ["podcast"]))
    rows = client.versions()
    assert [(r["model"], r["entity"], r["version"], r["current"]) for r in rows] == [
        ("hgnn", "item", V1, False),
        ("hgnn", "item", V2, True),
    ]
    assert rows[0]["dim"] == 8 and rows[0]["rows"] == 3


def test_empty_data_dir_has_no_versions_and_content_types_says_what_to_run(tmp_path: Path) -> None:
    client = EmbeddingClient(tmp_path)
    assert client.versions() == []
    with pytest.raises(NotFoundError, match="gfm transform"):
        client.content_types()


def test_every_python_name_the_readme_gives_exists() -> None:
    text = (REPO / "README.md").read_text()
    names = re.findall(r"^from ((?:feature_repo|vector_index)[\w.]*) import (\w+)", text, re.M)
    names += [
        tuple(m.rsplit(".", 1))
        for m in re.findall(r"`((?:feature_repo|vector_index)\.[\w.]*\.[A-Z]\w*)`", text)
    ]
    assert names, "the README names no client"
    for module, name in names:
        assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
