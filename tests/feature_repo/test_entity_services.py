"""Per-entity Feast services: stable names follow the live version; versioned names pin one."""

from __future__ import annotations

import numpy as np
import pytest

from gfm.config import Config
from gfm.errors import StageError

V1 = "v20261001t000000_aaaaaa"
V2 = "v20261002t000000_bbbbbb"
DIM = 128


def vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def two_versions(synthetic_store: Config) -> Config:
    from feature_repo.store import publish_embeddings

    cfg = synthetic_store
    for i, version in enumerate((V1, V2)):
        for model, entity in (("hgnn", "item"), ("two_tower", "item"), ("two_tower", "user")):
            publish_embeddings(
                cfg,
                model=model,
                entity=entity,
                version=version,
                ids=np.arange(1, 31),
                vectors=vectors(30, 10 * i + len(model) + len(entity)),
                inputs={},
                make_current=False,
            )
    return cfg


def _online(cfg: Config, service: str, key: str, ids: list[int]) -> dict[str, list]:
    from feature_repo.store.repo import get_store

    store = get_store(cfg)
    response = store.get_online_features(
        features=store.get_feature_service(service, allow_cache=False),
        entity_rows=[{key: i} for i in ids],
        full_feature_names=True,
    )
    return response.to_dict()


def test_versioned_services_hold_one_entity_each_under_model_names(two_versions: Config) -> None:
    from feature_repo.store.repo import get_store

    services = {s.name: s for s in get_store(two_versions).list_feature_services()}
    items = services[f"item_embeddings_{V1}"]
    assert [p.name_to_use() for p in items.feature_view_projections] == ["hgnn", "two_tower"]
    assert [p.name for p in services[f"user_embeddings_{V1}"].feature_view_projections] == [
        f"two_tower_user_embeddings_{V1}"
    ]
    got = _online(two_versions, f"user_embeddings_{V1}", "user_id", [3])
    np.testing.assert_allclose(got["two_tower__vector"][0], vectors(30, 13)[2], rtol=1e-6)


def test_stable_services_resolve_to_the_version_made_live(two_versions: Config) -> None:
    from feature_repo.client import EmbeddingClient
    from feature_repo.store.services import live_service_version, point_live

    cfg = two_versions
    for i, version in ((1, V2), (0, V1)):  # publish V2, then roll back to V1
        point_live(cfg, version)
        assert live_service_version(cfg, "item") == live_service_version(cfg, "user") == version
        assert EmbeddingClient(cfg).current_versions() == {"hgnn": version, "two_tower": version}
        items = _online(cfg, "item_embeddings", "item_id", [1, 999])
        np.testing.assert_allclose(items["hgnn__vector"][0], vectors(30, 10 * i + 8)[0], rtol=1e-6)
        np.testing.assert_allclose(items["two_tower__vector"][0], vectors(30, 10 * i + 13)[0], rtol=1e-6)
        assert items["hgnn__vector"][1] is None
        users = _online(cfg, "user_embeddings", "user_id", [5])
        np.testing.assert_allclose(users["two_tower__vector"][0], vectors(30, 10 * i + 13)[4], rtol=1e-6)


def test_remove_version_refuses_the_current_one_and_removes_an_old_one(two_versions: Config) -> None:
    from feature_repo.store import read_catalog
    from feature_repo.store.repo import get_store
    from feature_repo.store.services import point_live, remove_version

    cfg = two_versions
    point_live(cfg, V1)
    with pytest.raises(StageError, match="is current"):
        remove_version(cfg, V1)
    removed = remove_version(cfg, V2)
    assert f"item_embeddings_{V2}" in removed and f"hgnn_item_embeddings_{V2}" in removed
    store = get_store(cfg)
    assert not [v.name for v in store.list_feature_views() if V2 in v.name]
    assert not [s.name for s in store.list_feature_services() if V2 in s.name]
    assert not list((cfg.feast_dir / "published").glob(f"*_{V2}.parquet"))
    assert read_catalog(cfg.feast_dir).versions("hgnn") == [V1]
    assert remove_version(cfg, V2) == []  # idempotent
    users = _online(cfg, "user_embeddings", "user_id", [5])
    assert users["two_tower__vector"][0] is not None  # the live version is untouched


@pytest.mark.slow
def test_feast_serve_answers_the_stable_names_over_http(two_versions: Config) -> None:
    """Teams outside Python: `feast serve` on loopback, then POST /get-online-features by stable name."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    from feature_repo.store.repo import write_feature_store_yaml
    from feature_repo.store.services import point_live

    cfg = two_versions
    point_live(cfg, V1)  # V1 exists whatever ran before (the removal test drops V2)
    write_feature_store_yaml(cfg)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    feast = str(Path(sys.executable).with_name("feast"))
    server = subprocess.Popen(
        [feast, "-c", str(cfg.feast_dir), "serve", "-h", "127.0.0.1", "-p", str(port), "--no-access-log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "feast serve did not come up in 120 s"
            time.sleep(1)
        items = httpx.post(
            f"{url}/get-online-features",
            json={
                "feature_service": "item_embeddings",
                "entities": {"item_id": [1]},
                "full_feature_names": True,
            },
            timeout=30,
        )
        assert items.status_code == 200, items.text
        body = items.json()
        names = body["metadata"]["feature_names"]
        assert {"hgnn__vector", "two_tower__vector"} <= set(names)
        got = body["results"][names.index("two_tower__vector")]["values"][0]
        np.testing.assert_allclose(got, vectors(30, 13)[0], rtol=1e-6)  # V1's two-tower item 1
        users = httpx.post(
            f"{url}/get-online-features",
            json={
                "feature_service": "user_embeddings",
                "entities": {"user_id": [5]},
                "full_feature_names": True,
            },
            timeout=30,
        )
        assert users.status_code == 200, users.text
        names = users.json()["metadata"]["feature_names"]
        got = users.json()["results"][names.index("two_tower__vector")]["values"][0]
        np.testing.assert_allclose(got, vectors(30, 13)[4], rtol=1e-6)
    finally:
        server.terminate()
        server.wait(timeout=30)
