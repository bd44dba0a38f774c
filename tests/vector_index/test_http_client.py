"""``vector_index.http_client.GfmSearchClient`` against the real service app (in-process TestClient)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from index_suite import V1, item_vectors, write_export

from gfm.config import Config
from gfm.errors import InvalidInputError, NotFoundError
from vector_index import close_clients, ops
from vector_index.http_client import AccessError, GfmSearchClient
from vector_index.service import create_app
from vector_index.tokens import TokenStore
from vector_index.users import ParquetUserVectors


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Config, dict[str, str]]]:
    cfg = Config.load(data_dir=tmp_path_factory.mktemp("http"), environ={})
    write_export(cfg, "two_tower", V1)
    ops.index_version(cfg, "two_tower", V1)
    ops.publish_version(cfg, "two_tower", V1)
    close_clients()
    store = TokenStore(cfg.data_dir)
    tokens = {s: store.create(f"t-{s}", [s])[1] for s in ("search", "admin")}
    users = ParquetUserVectors(cfg.embeddings_dir / "two_tower" / V1 / "users.parquet")
    with TestClient(create_app(cfg, user_vectors=users)) as http:
        yield http, cfg, tokens
    close_clients()


def test_client_calls_each_endpoint_with_its_token(served: tuple[TestClient, Config, dict[str, str]]) -> None:
    http, cfg, tokens = served
    search = GfmSearchClient(token=tokens["admin"], http=http)
    similar = search.similar(20, type="podcast", k=5)
    assert (similar.alias, similar.version, len(similar.hits)) == ("item_two_tower", V1, 5)
    assert 20 not in similar.ids
    ids, vectors = item_vectors(cfg, "two_tower", V1)
    assert search.search_vector(vectors[3].tolist(), k=3).ids[0] == int(ids[3])
    assert len(search.recommendations(7, k=4).hits) == 4
    assert search.versions()[0]["version"] == V1
    assert search.healthz()["status"] == "ok"


def test_refusals_come_back_typed(served: tuple[TestClient, Config, dict[str, str]]) -> None:
    http, _, tokens = served
    with pytest.raises(AccessError) as missing:
        GfmSearchClient(http=http).similar(20)
    assert missing.value.status == 401
    with pytest.raises(AccessError) as scope:
        GfmSearchClient(token=tokens["search"], http=http).recommendations(7)
    assert scope.value.status == 403
    search = GfmSearchClient(token=tokens["search"], http=http)
    with pytest.raises(NotFoundError):
        search.similar(999999)
    with pytest.raises(InvalidInputError, match="unknown content type"):
        search.similar(20, type="movie")
