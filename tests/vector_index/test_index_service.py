"""The HTTP service on Milvus Lite through FastAPI's TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from index_suite import DIM, TYPES, V1, V2, item_vectors, write_export

from gfm.config import Config
from vector_index import close_clients, ops
from vector_index.service import create_app
from vector_index.users import ParquetUserVectors


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    config = Config.load(
        data_dir=tmp_path_factory.mktemp("svc"), environ={}, overrides={"serve": {"max_k": 50}}
    )
    write_export(config, "two_tower", V1)
    ops.index_version(config, "two_tower", V1)
    ops.publish_version(config, "two_tower", V1)
    write_export(config, "hgnn", V1, seed=1)  # other vectors; rewrites the marts, which every test reads
    ops.index_version(config, "hgnn", V1, entities=("item",))
    ops.publish_version(config, "hgnn", V1, entities=("item",))
    prov = config.reports_dir / "provenance"
    prov.mkdir(parents=True)
    (prov / f"{V1}.json").write_text(json.dumps({"version": V1, "status": "published"}))
    close_clients()  # the service process owns the file from here on
    yield config


@pytest.fixture(scope="module")
def api(cfg: Config) -> Iterator[TestClient]:
    users = ParquetUserVectors(cfg.embeddings_dir / "two_tower" / V1 / "users.parquet")
    with TestClient(create_app(cfg, user_vectors=users)) as client:
        yield client
    close_clients()


def test_healthz_and_versions_report_live_version_with_provenance(api: TestClient) -> None:
    assert api.get("/healthz").json()["status"] == "ok"
    live = {v["alias"]: v for v in api.get("/v1/versions").json()["live"]}
    assert live["item_two_tower"]["version"] == V1
    assert live["item_two_tower"]["provenance"]["status"] == "published"
    assert live["item_two_tower"]["content_types"] == list(TYPES)
    assert "/v1/search" in api.get("/openapi.json").json()["paths"]


def test_similar_items_excludes_the_item_and_respects_type(api: TestClient) -> None:
    body = api.get("/v1/items/20/similar", params={"type": "podcast", "k": 5}).json()
    assert body["version"] == V1 and len(body["results"]) == 5
    ids = [r["id"] for r in body["results"]]
    assert 20 not in ids
    assert all((i // 10 - 1) % 2 == 1 for i in ids)  # odd positions are podcasts in the fixture


def test_recommendations_exclude_consumed_items(api: TestClient, cfg: Config) -> None:
    consumed = pq.read_table(cfg.marts_dir / "fct_interactions.parquet").to_pandas()
    user = 7
    mine = set(consumed.loc[consumed.user_id == user, "item_id"].tolist())
    users = ParquetUserVectors(cfg.embeddings_dir / "two_tower" / V1 / "users.parquet")
    ids, vectors = item_vectors(cfg, "two_tower", V1)
    ranking = [int(i) for i in ids[np.argsort(-(vectors @ users.get(user)))]]
    expected = [i for i in ranking if i not in mine][:10]
    body = api.get(f"/v1/users/{user}/recommendations", params={"k": 10}).json()
    assert [r["id"] for r in body["results"]] == expected


def test_hgnn_recommendations_are_the_evaluations_mixture(api: TestClient, cfg: Config) -> None:
    """With every podcast within the neighbours read, the service ranks as HGNN-kNN's brute force."""
    consumed = pq.read_table(cfg.marts_dir / "fct_interactions.parquet").to_pandas()
    items = pq.read_table(cfg.marts_dir / "dim_items.parquet").to_pandas()
    podcasts = set(items.loc[items.content_type == "podcast", "item_id"].tolist())
    ids, vectors = item_vectors(cfg, "hgnn", V1)
    row = {int(i): r for r, i in enumerate(ids)}
    t = cfg.hgnn.temperature
    for user in (7, 14):
        mine = sorted(set(consumed.loc[consumed.user_id == user, "item_id"].tolist()))
        total = np.zeros(len(ids))
        for h in mine:  # P(b | h) over the podcasts other than h
            logits = np.where(
                [int(i) in podcasts and int(i) != h for i in ids], vectors @ vectors[row[h]] / t, -np.inf
            )
            total += np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        order = [
            int(i)
            for i in ids[np.argsort(-total, kind="stable")]
            if int(i) in podcasts and int(i) not in mine
        ]
        body = api.get(
            f"/v1/users/{user}/recommendations", params={"model": "hgnn", "type": "podcast", "k": 10}
        )
        assert body.status_code == 200, body.text
        assert body.json()["alias"] == "item_hgnn"
        assert [r["id"] for r in body.json()["results"]] == order[:10]
        scores = [r["score"] for r in body.json()["results"]]
        expected = np.log(total[[row[i] for i in order[:10]]] / len(mine))
        np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)
    # a user with nothing consumed has nothing to read the HGNN vectors from
    missing = api.get("/v1/users/8/recommendations", params={"model": "hgnn"})
    assert missing.status_code == 404 and "no consumed items" in missing.text
    assert api.get("/v1/users/7/recommendations", params={"model": "lightgcn"}).status_code == 422


def test_post_search_returns_nearest_items(api: TestClient, cfg: Config) -> None:
    ids, vectors = item_vectors(cfg, "two_tower", V1)
    body = api.post("/v1/search", json={"vector": vectors[3].tolist(), "k": 3}).json()
    assert body["results"][0]["id"] == int(ids[3])


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status"),
    [
        ("get", "/v1/items/999999/similar", {}, 404),
        ("get", "/v1/users/999999/recommendations", {}, 404),
        ("get", "/v1/items/20/similar", {"params": {"k": 0}}, 422),
        ("get", "/v1/items/20/similar", {"params": {"k": 51}}, 422),
        ("get", "/v1/items/20/similar", {"params": {"type": "movie"}}, 422),
        ("get", "/v1/items/20/similar", {"params": {"type": 'podcast" or id > 0 or content_type == "'}}, 422),
        ("get", "/v1/items/20/similar", {"params": {"filter": "id > 0"}}, 422),
        ("get", "/v1/items/20 or 1==1/similar", {}, 422),
        ("get", "/v1/users/7/recommendations", {"params": {"type": "podcast' or '1'=='1"}}, 422),
        ("get", "/v1/users/7/recommendations", {"params": {"k": "10; drop"}}, 422),
        ("post", "/v1/search", {"json": {"vector": [0.1] * (DIM + 1)}}, 422),
        ("post", "/v1/search", {"json": {"vector": [0.1] * DIM, "type": 'x" or true'}}, 422),
        ("post", "/v1/search", {"json": {"vector": [0.1] * DIM, "filter": "id > 0"}}, 422),
        ("post", "/v1/search", {"json": {"vector": [0.1] * DIM, "k": 51}}, 422),
        # ids are int64: wider numbers are refused by validation, the extremes are merely unknown
        ("get", "/v1/users/99999999999999999999/recommendations", {}, 422),
        ("get", "/v1/users/-9223372036854775809/recommendations", {}, 422),
        ("get", "/v1/items/99999999999999999999/similar", {}, 422),
        ("get", "/v1/items/-99999999999999999999/similar", {}, 422),
        ("get", f"/v1/users/{2**63 - 1}/recommendations", {}, 404),
        ("get", f"/v1/users/{-(2**63)}/recommendations", {}, 404),
        ("get", f"/v1/items/{2**63 - 1}/similar", {}, 404),
        ("get", f"/v1/items/{-(2**63)}/similar", {}, 404),
        ("get", "/v1/users/1e3/recommendations", {}, 422),
    ],
)
def test_bad_input_gets_clear_4xx(
    api: TestClient, method: str, url: str, kwargs: dict[str, object], status: int
) -> None:
    response = getattr(api, method)(url, **kwargs)
    assert response.status_code == status, response.text
    assert "detail" in response.json()


def test_out_of_range_id_names_the_int64_bound(api: TestClient) -> None:
    response = api.get("/v1/users/99999999999999999999/recommendations")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["path", "user_id"] and "9223372036854775807" in error["msg"]


def test_body_over_the_limit_gets_413_before_it_is_read(api: TestClient, cfg: Config) -> None:
    limit = cfg.serve.max_body_bytes
    assert limit == 1 << 20  # the default
    big = b'{"vector": [' + b"0.1," * (limit // 4) + b"0.1]}"
    declared = api.post("/v1/search", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413, declared.text
    assert declared.json()["detail"] == {
        "error": "request body too large",
        "limit_bytes": limit,
        "content_length": len(big),
    }

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts the bytes as they arrive
        for start in range(0, len(big), 64 << 10):
            yield big[start : start + (64 << 10)]

    streamed = api.post("/v1/search", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["detail"] == {"error": "request body too large", "limit_bytes": limit}
    bad = api.post("/v1/search", content=b"{}", headers={"content-length": "2x"})
    assert bad.status_code == 400 and "Content-Length" in bad.json()["detail"]["error"]


def test_openapi_page_loads_its_assets_from_the_service(api: TestClient) -> None:
    import re

    html = api.get("/docs").text
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls and all(u.startswith("/") for u in urls), urls  # nothing from another host
    assert {"swagger-ui-bundle.js", "swagger-ui.css"} <= {u.rsplit("/", 1)[-1] for u in urls}
    for url in urls:
        assert api.get(url).status_code == 200, url
    assert "/openapi.json" in html
    assert api.get("/redoc").status_code == 404  # dropped: ReDoc always loads a logo from its CDN


def test_unknown_type_lists_allowed_types(api: TestClient) -> None:
    detail = api.get("/v1/items/20/similar", params={"type": "movie"}).json()["detail"]
    assert detail["allowed"] == list(TYPES) and detail["value"] == "movie"


# after the tests of the module-wide service: close_clients() closes its Milvus client
def test_body_limit_is_configurable(tmp_path: Path) -> None:
    cfg = Config.load(data_dir=tmp_path, environ={}, overrides={"serve": {"max_body_bytes": 100}})
    with TestClient(create_app(cfg, user_vectors=ParquetUserVectors.empty())) as client:
        small = client.post("/v1/search", json={"vector": [0.1] * 4})  # no live version: 503
        assert small.status_code == 503
        assert client.post("/v1/search", json={"vector": [0.1] * 40}).status_code == 413
    close_clients()


def test_service_without_live_version_answers_503(tmp_path: Path) -> None:
    cfg = Config.load(data_dir=tmp_path, environ={})
    with TestClient(create_app(cfg, user_vectors=ParquetUserVectors.empty())) as client:
        assert client.get("/v1/items/1/similar").status_code == 503
        assert client.get("/healthz").status_code == 200
    close_clients()


def test_alias_swap_is_seen_by_the_running_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vector_index.search as search_mod

    monkeypatch.setattr(search_mod, "_REFRESH_S", 0.0)
    cfg = Config.load(data_dir=tmp_path, environ={})
    write_export(cfg, "two_tower", V1, seed=1)
    write_export(cfg, "two_tower", V2, seed=2)
    for v in (V1, V2):
        ops.index_version(cfg, "two_tower", v, entities=("item",))
    ops.publish_version(cfg, "two_tower", V1, entities=("item",))
    with TestClient(create_app(cfg, user_vectors=ParquetUserVectors.empty())) as client:
        assert client.get("/v1/items/20/similar").json()["version"] == V1
        ops.publish_version(cfg, "two_tower", V2, entities=("item",))  # same process: same client
        assert client.get("/v1/items/20/similar").json()["version"] == V2
    close_clients()


@pytest.mark.slow
@pytest.mark.slow  # Feast apply + materialize: ~30 s on 2 shared cores
def test_recommendations_with_feast_user_vectors(tmp_path: Path) -> None:
    """The production path: user vectors from the Feast online store (feature_repo.client.EmbeddingClient)."""
    pytest.importorskip("feast")
    from feature_repo.store.publish import publish_export

    cfg = Config.load(data_dir=tmp_path, environ={}, overrides={"two_tower": {"dim": DIM}})
    write_export(cfg, "two_tower", V1)
    publish_export(cfg, "two_tower", V1)  # real Feast apply + materialize into the SQLite online store
    ops.index_version(cfg, "two_tower", V1)
    ops.publish_version(cfg, "two_tower", V1)
    with TestClient(create_app(cfg)) as client:  # default source: Feast
        assert client.get("/healthz").json()["user_vectors"] == "FeastUserVectors"
        body = client.get("/v1/users/7/recommendations", params={"k": 5}).json()
        assert len(body["results"]) == 5
        again = client.get("/v1/users/7/recommendations", params={"k": 5}).json()
        assert again == body
        assert len(client.app.state.user_cache) == 1  # type: ignore[attr-defined]  # read once
        assert client.get("/v1/users/999999/recommendations").status_code == 404
    close_clients()
