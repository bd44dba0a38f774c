"""Text search: the HGNN text-only path, ``GET /v1/search?q=`` and ``gfm index search --text``.

A tiny catalogue with distinct titles gets real MiniLM text features and a real (few-epoch) HGNN,
published to Milvus Lite; a few items have no edge, so their exported vectors come from the same
text-only path a query takes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from embedding_jobs.export import read_vectors
from embedding_jobs.text_features import item_texts
from embedding_jobs.text_query import TextQueryEncoder
from embedding_jobs.train_hgnn import train_hgnn
from gfm.config import Config
from gfm.naming import export_path
from pipeline.cli import app as cli
from vector_index import close_clients, ops
from vector_index.http_client import GfmSearchClient
from vector_index.service import create_app
from vector_index.tokens import TokenStore
from vector_index.users import ParquetUserVectors

pytestmark = pytest.mark.slow  # MiniLM loads and a few HGNN epochs: ~30 s on 2 shared cores

VERSION = "v20261203t170000_7e57ab"
SUBJECTS = {
    "crime": ["The Harbour Strangler", "Murder on the Night Train", "A Detective in Venice", "Poison at the Vicarage"],
    "food": ["Sourdough for Beginners", "Grandmother's Lemon Cake", "The Ramen Workshop", "Fermenting Kimchi at Home"],
    "science": ["Black Holes Explained", "The Mars Rover Diaries", "Inside the Large Hadron Collider", "Tides and the Moon"],
    "history": ["The Fall of Constantinople", "Vikings in Greenland", "Napoleon's Last Battle", "The Silk Road Merchants"],
}  # fmt: skip
ISOLATED = ("Origami for Cats", "Lighthouse Keepers of Norway")


def _marts(marts_dir: Path) -> pd.DataFrame:
    rows, edges, item_id = [], [], 100
    for genre, titles in SUBJECTS.items():
        for ctype in ("podcast", "audiobook"):
            for title in titles:
                rows.append((item_id, ctype, f"{title} ({ctype})", f"A {ctype} about {genre}.", genre))
                item_id += 1
    for title in ISOLATED:
        rows.append((item_id, "podcast", title, "A podcast.", "misc"))
        item_id += 1
    items = pd.DataFrame(rows, columns=["item_id", "content_type", "title", "description", "genre"])
    items["language"] = "en"
    linked = items[items.genre != "misc"]
    for _, group in linked.groupby("genre"):
        ids = group.item_id.tolist()
        edges += [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    fct = pd.DataFrame(edges, columns=["src_item_id", "dst_item_id"])
    kind = items.set_index("item_id").content_type
    fct["src_type"], fct["dst_type"] = kind[fct.src_item_id].to_numpy(), kind[fct.dst_item_id].to_numpy()
    fct["relation"] = fct.src_type + "__" + fct.dst_type
    fct["n_co_users"] = 3
    marts_dir.mkdir(parents=True, exist_ok=True)
    items.to_parquet(marts_dir / "dim_items.parquet", index=False)
    fct.to_parquet(marts_dir / "fct_item_edges.parquet", index=False)
    return items


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, pd.DataFrame, dict[str, str]]]:
    data = tmp_path_factory.mktemp("text") / "data"
    hgnn = {
        "hidden_dim": 32,
        "out_dim": 32,
        "fanouts": [5, 3],
        "epochs": 4,
        "batch_size": 64,
        "device": "cpu",
    }
    cfg = Config(data_dir=data, hgnn=hgnn, text={"batch_size": 32}, serve={"max_query_chars": 64})  # type: ignore[arg-type]
    items = _marts(cfg.marts_dir)
    train_hgnn(cfg, VERSION)
    ops.index_version(cfg, "hgnn", VERSION, entities=("item",))
    ops.publish_version(cfg, "hgnn", VERSION, entities=("item",))
    store = TokenStore(cfg.data_dir)
    tokens = {s: store.create(f"team-{s}", [s])[1] for s in ("search", "recommend")}
    yield cfg, items, tokens
    close_clients()


@pytest.fixture(scope="module")
def api(built: tuple[Config, pd.DataFrame, dict[str, str]]) -> Iterator[TestClient]:
    cfg, _, tokens = built
    with TestClient(create_app(cfg, user_vectors=ParquetUserVectors.empty())) as client:
        client.headers["Authorization"] = f"Bearer {tokens['search']}"
        yield client


def test_isolated_item_vector_is_exactly_the_text_only_path(
    built: tuple[Config, pd.DataFrame, dict[str, str]],
) -> None:
    cfg, items, _ = built
    ids, vectors = read_vectors(export_path(cfg.embeddings_dir, "hgnn", VERSION, "item"))
    lonely = items[items.genre == "misc"]
    encoded = TextQueryEncoder(cfg, VERSION).encode(item_texts(lonely).tolist())
    exported = vectors[np.searchsorted(ids, lonely.item_id.to_numpy())]
    np.testing.assert_allclose(encoded, exported, atol=1e-5)


def test_title_query_finds_the_item_in_the_top_10(
    api: TestClient, built: tuple[Config, pd.DataFrame, dict[str, str]]
) -> None:
    _, items, _ = built
    found = 0
    for row in items.itertuples():
        body = api.get("/v1/search", params={"q": row.title, "k": 10}).json()
        assert body["alias"] == "item_hgnn" and body["version"] == VERSION
        found += row.item_id in [r["id"] for r in body["results"]]
    assert found / len(items) >= 0.5, found  # chance: 10 of 34 items
    for title in ISOLATED:  # no edge: the item's vector took the query's own path
        body = api.get("/v1/search", params={"q": title, "k": 1}).json()
        assert body["results"][0]["id"] == int(items.loc[items.title == title, "item_id"].iloc[0])


def test_type_filter_keeps_one_type(
    api: TestClient, built: tuple[Config, pd.DataFrame, dict[str, str]]
) -> None:
    _, items, _ = built
    body = api.get("/v1/search", params={"q": "Vikings in Greenland", "type": "audiobook", "k": 5}).json()
    kinds = items.set_index("item_id").content_type
    assert len(body["results"]) == 5 and {kinds[r["id"]] for r in body["results"]} == {"audiobook"}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"q": ""}, "empty"),
        ({"q": "   "}, "empty"),
        ({}, "q"),
        ({"q": "x" * 65}, "at most 64"),
        ({"q": "cake", "type": "movie"}, "unknown content type"),
        ({"q": "cake", "type": 'podcast" or true'}, "unknown content type"),
        ({"q": "cake", "k": 0}, "k"),
        ({"q": "cake", "filter": "id > 0"}, "unknown query parameters"),
    ],
)
def test_bad_text_queries_get_422(api: TestClient, params: dict[str, str | int], needle: str) -> None:
    response = api.get("/v1/search", params=params)
    assert response.status_code == 422, response.text
    assert needle in response.text


def test_text_search_needs_the_search_scope(
    api: TestClient, built: tuple[Config, pd.DataFrame, dict[str, str]]
) -> None:
    _, _, tokens = built
    url, params = "/v1/search", {"q": "cake"}
    assert api.get(url, params=params, headers={"Authorization": ""}).status_code == 401
    wrong = {"Authorization": f"Bearer {tokens['recommend']}"}
    assert api.get(url, params=params, headers=wrong).status_code == 403


def test_cli_text_search_matches_the_service(
    api: TestClient, built: tuple[Config, pd.DataFrame, dict[str, str]]
) -> None:
    cfg, _, _ = built
    args = [
        "--data-dir",
        str(cfg.data_dir),
        "index",
        "search",
        "--text",
        "Sourdough for Beginners",
        "-k",
        "3",
    ]
    result = CliRunner().invoke(cli, args, env={"GFM__HGNN__DEVICE": "cpu"})
    assert result.exit_code == 0, result.output
    served = api.get("/v1/search", params={"q": "Sourdough for Beginners", "k": 3}).json()
    assert [r["id"] for r in json.loads(result.stdout)["results"]] == [r["id"] for r in served["results"]]
    over_http = GfmSearchClient(http=api).search_text("Sourdough for Beginners", k=3)  # api holds the token
    assert over_http.ids == [r["id"] for r in served["results"]]
    blank = CliRunner().invoke(cli, [*args[:4], "--text", " "])
    assert blank.exit_code == 2 and "empty" in blank.output


def test_without_a_live_hgnn_text_search_answers_503(tmp_path: Path) -> None:
    cfg = Config.load(data_dir=tmp_path, environ={})
    with TestClient(create_app(cfg, user_vectors=ParquetUserVectors.empty())) as client:
        assert client.get("/v1/search", params={"q": "cake"}).status_code == 503
    close_clients()
