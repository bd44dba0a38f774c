"""Service access: the 401/403/200 matrix per endpoint and scope, open mode, the public bind."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from index_suite import DIM, V1, write_export

from gfm.config import Config
from gfm.errors import GfmError
from vector_index import close_clients, ops
from vector_index.auth import check_bind, is_loopback
from vector_index.service import create_app
from vector_index.tokens import TokenStore
from vector_index.users import ParquetUserVectors

# (method, url, json body, the scope it needs); text search is covered in test_text_search.py
ENDPOINTS = [
    ("get", "/v1/items/20/similar", None, "search"),
    ("post", "/v1/search", {"vector": [0.1] * DIM, "k": 3}, "search"),
    ("get", "/v1/users/7/recommendations", None, "recommend"),
    ("get", "/v1/versions", None, "any"),
]
SCOPES = ("search", "recommend", "admin")


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    config = Config.load(data_dir=tmp_path_factory.mktemp("auth"), environ={})
    write_export(config, "two_tower", V1)
    ops.index_version(config, "two_tower", V1)
    ops.publish_version(config, "two_tower", V1)
    close_clients()
    yield config


@pytest.fixture(scope="module")
def tokens(cfg: Config) -> dict[str, str]:
    store = TokenStore(cfg.data_dir)
    out = {scope: store.create(f"team-{scope}", [scope])[1] for scope in SCOPES}
    revoked, out["revoked"] = store.create("gone", ["admin"])
    store.revoke(revoked.token_id)
    return out


@pytest.fixture(scope="module")
def api(cfg: Config, tokens: dict[str, str]) -> Iterator[TestClient]:
    users = ParquetUserVectors(cfg.embeddings_dir / "two_tower" / V1 / "users.parquet")
    with TestClient(create_app(cfg, user_vectors=users)) as client:
        yield client
    close_clients()


def _call(api: TestClient, method: str, url: str, body: object, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    kwargs = {"json": body} if body is not None else {}
    return int(getattr(api, method)(url, headers=headers, **kwargs).status_code)


@pytest.mark.parametrize(("method", "url", "body", "needs"), ENDPOINTS)
@pytest.mark.parametrize("who", [None, "garbage", "revoked", *SCOPES])
def test_status_matrix(
    api: TestClient,
    tokens: dict[str, str],
    method: str,
    url: str,
    body: object,
    needs: str,
    who: str | None,
) -> None:
    token = None if who is None else tokens.get(who, "gfm_000000000000_" + "x" * 43)
    if who in (None, "garbage", "revoked"):
        expected = 401
    elif who == "admin" or needs in ("any", who):
        expected = 200
    else:
        expected = 403
    assert _call(api, method, url, body, token) == expected


def test_401_names_the_scheme_and_403_names_the_scope(api: TestClient, tokens: dict[str, str]) -> None:
    missing = api.get("/v1/items/20/similar")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "gfm tokens create" in missing.json()["detail"]["hint"]
    wrong = api.get("/v1/users/7/recommendations", headers={"Authorization": f"Bearer {tokens['search']}"})
    assert wrong.json()["detail"]["scopes"] == ["search"] and "recommend" in wrong.json()["detail"]["error"]


def test_healthz_and_docs_stay_open_and_docs_explain_authorisation(api: TestClient) -> None:
    assert api.get("/healthz").status_code == 200
    assert api.get("/docs").status_code == 200
    spec = api.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "gfm tokens create" in spec["info"]["description"]
    assert spec["paths"]["/v1/items/{item_id}/similar"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_a_bad_request_without_token_gets_401_not_422(api: TestClient) -> None:
    assert api.get("/v1/items/20/similar", params={"k": 0}).status_code == 401


def test_request_counts_per_token_are_logged(
    api: TestClient, tokens: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    with caplog.at_level(logging.INFO, logger="vector_index.auth"):
        for _ in range(3):
            api.get("/v1/versions", headers=headers)
    lines = [r.getMessage() for r in caplog.records if "team=team-admin" in r.getMessage()]
    assert len(lines) == 3
    counts = [int(line.rsplit("requests=", 1)[1]) for line in lines]
    assert counts == [counts[0], counts[0] + 1, counts[0] + 2]


def test_no_token_and_loopback_is_open_as_before(tmp_path: Path) -> None:
    cfg = Config.load(data_dir=tmp_path, environ={})
    with TestClient(create_app(cfg, user_vectors=ParquetUserVectors.empty())) as client:
        assert client.get("/v1/versions").status_code == 200
    close_clients()


def test_public_service_requires_a_token_even_when_all_are_revoked(tmp_path: Path) -> None:
    cfg = Config.load(data_dir=tmp_path, environ={})
    with TestClient(create_app(cfg, user_vectors=ParquetUserVectors.empty(), public=True)) as client:
        assert client.get("/v1/versions").status_code == 401
        assert client.get("/healthz").status_code == 200
    close_clients()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True), ("::1", True), ("[::1]", True)],
        *[("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("example.org", False)],
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_public_bind_without_token_is_refused_and_allowed_with_one(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    with pytest.raises(GfmError, match=r"refusing to serve on 0\.0\.0\.0.*gfm tokens create"):
        check_bind("0.0.0.0", store)
    assert check_bind("127.0.0.1", store) is False
    store.create("ops", ["admin"])
    assert check_bind("0.0.0.0", store) is True
