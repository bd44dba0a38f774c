"""2T-HGNN as served (``vector_index.blend``) against the evaluation's scorer of the same version.

The service answers a 2T-HGNN version with the two-tower's softmax and the HGNN's item mixture
blended by the rule on its card; ``embedding_jobs.evaluate.served`` scores the same rule for the
report and the publish gate. On Milvus Lite (exact search) the two must rank alike, with each
expert cut to ``serve.mixture_depth`` items smaller than a content type, so the cut is tested too.
Both readings of the HGNN's mixture are served: each item's nearest items (cards before round 37)
and its graph partners, where some items have more partners than the depth and some none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from fastapi.testclient import TestClient
from index_suite import V1, write_export

from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import build_tasks
from embedding_jobs.evaluate.served import served_rule, served_scorer
from embedding_jobs.partners import Partners
from gfm.config import Config
from gfm.naming import checkpoint_dir, export_path
from vector_index import close_clients, ops
from vector_index.blend import TwoTowerRecommender
from vector_index.search import VectorSearcher
from vector_index.service import create_app
from vector_index.users import ParquetUserVectors

DEPTH = 20  # each expert's items read per query; a content type here has 150


def _card(cfg: Config, model: str, config: dict, extra: dict) -> None:
    folder = checkpoint_dir(cfg.models_dir, model, V1)
    folder.mkdir(parents=True, exist_ok=True)
    card = {"model": model, "version": V1, "data_fingerprint": "x", "config": config, "extra": extra}
    (folder / "card.json").write_text(json.dumps(card))


def _write_partners(cfg: Config) -> None:
    """A random graph over the export's items: 0 to about 60 partners of a type (depth 20)."""
    items = pq.read_table(cfg.marts_dir / "dim_items.parquet").to_pandas()
    rng = np.random.default_rng(3)
    ids = items["item_id"].to_numpy()
    linked = ids[np.arange(len(ids)) % 4 != 0]  # every fourth item has no edge
    src = np.repeat(linked, rng.integers(1, 61, size=len(linked)))
    dst = rng.choice(linked, size=len(src))
    partners = Partners.from_edges(src, dst, ids, items["content_type"].to_numpy())
    assert 0 < len(partners) < len(ids)  # some items have no partner: their nearest items stand in
    partners.write(export_path(cfg.embeddings_dir, "hgnn", V1, "partner"))


@pytest.fixture(scope="module", params=["nearest", "partners"])
def cfg(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Config]:
    config = Config.load(
        data_dir=tmp_path_factory.mktemp("blend"), environ={}, overrides={"serve": {"mixture_depth": DEPTH}}
    )
    write_export(config, "two_tower", V1)
    write_export(config, "hgnn", V1, seed=1)  # rewrites the marts: every test reads these
    for model, entities in (("two_tower", ("item", "user")), ("hgnn", ("item",))):
        ops.index_version(config, model, V1, entities=entities)
        ops.publish_version(config, model, V1, entities=entities)
    _card(config, "hgnn", {"hgnn": {"loss": "softmax", "temperature": 0.1}}, {})
    tower = {"use_hgnn": True, "mixture_share": 0.3, "temperature": 0.2, "mixture_reads": request.param}
    _card(config, "two_tower", {"two_tower": tower}, {"hgnn_version": V1})
    _write_partners(config)  # read only when the card says so
    close_clients()
    yield config
    close_clients()


def _evaluation_top(cfg: Config, users: list[int], k: int) -> dict[int, list[tuple[int, float]]]:
    """Per user, the evaluation's top ``k`` podcasts under the served rule, consumed items left out."""
    items = pq.read_table(cfg.marts_dir / "dim_items.parquet").to_pandas()
    facts = pq.read_table(cfg.marts_dir / "fct_interactions.parquet").to_pandas()
    podcasts = items.loc[items.content_type == "podcast", "item_id"].to_numpy()
    evals = pd.DataFrame({"user_id": users, "item_id": podcasts[: len(users)], "content_type": "podcast"})
    task = next(t for t in build_tasks(items, facts, evals) if t.name == "podcast")
    consumed, _ = baselines.user_item_lists(facts)
    scores = served_scorer(cfg, V1, consumed, baselines.item_popularity(facts))(task)
    assert callable(scores)  # a blend, not the towers' pair of matrices
    got = scores(0, len(task.user_ids))
    out = {}
    for row, user in enumerate(task.user_ids.tolist()):
        mine = set(consumed.get(user, []))
        order = torch.argsort(-got[row], stable=True).tolist()
        ranked = [(int(task.item_ids[c]), float(got[row, c])) for c in order if task.item_ids[c] not in mine]
        out[user] = ranked[:k]
    return out


def test_the_service_serves_what_the_evaluation_scores(cfg: Config) -> None:
    rule = served_rule(cfg, V1)
    reads = json.loads((checkpoint_dir(cfg.models_dir, "two_tower", V1) / "card.json").read_text())
    expected_reads = reads["config"]["two_tower"]["mixture_reads"]
    assert rule == {"share": 0.3, "hgnn_version": V1, "tower_t": 0.2, "hgnn_t": 0.1, "reads": expected_reads}
    assert TwoTowerRecommender(cfg, nearest_only=True).rule(V1)["reads"] == "nearest"
    expected = _evaluation_top(cfg, [7, 14, 21], 10)
    users = ParquetUserVectors(cfg.embeddings_dir / "two_tower" / V1 / "users.parquet")
    with TestClient(create_app(cfg, user_vectors=users)) as api:
        for user, top in expected.items():
            body = api.get(f"/v1/users/{user}/recommendations", params={"type": "podcast", "k": 10})
            assert body.status_code == 200, body.text
            results = body.json()["results"]
            assert [r["id"] for r in results] == [i for i, _ in top]
            np.testing.assert_allclose([r["score"] for r in results], [s for _, s in top], atol=1e-4)
    close_clients()


def test_the_towers_alone_when_the_live_hgnn_is_another_version(cfg: Config) -> None:
    client = ops.client_for(cfg)
    tower = VectorSearcher(client, cfg.index, "item", "two_tower")
    hgnn = VectorSearcher(client, cfg.index, "item", "hgnn")
    vector = ParquetUserVectors(cfg.embeddings_dir / "two_tower" / V1 / "users.parquet").get(7)
    assert vector is not None
    mine = [10, 20, 30]
    plain = tower.search(vector, 10, content_type="podcast", exclude_ids=mine)[0]
    recommender = TwoTowerRecommender(cfg)
    known = set(range(10, 3010, 10))
    blended = recommender.recommend(tower, hgnn, vector, mine, 10, known, "podcast")
    assert [h.id for h in blended] != [h.id for h in plain]  # the fixture's blend changes the order
    recommender._rules[V1] = served_rule(cfg, V1) | {"hgnn_version": "v20261129t000000_000000"}
    assert recommender.recommend(tower, hgnn, vector, mine, 10, known, "podcast") == plain
    assert (
        recommender.recommend(tower, hgnn, vector, [], 10, known, "podcast")
        == tower.search(vector, 10, content_type="podcast")[0]
    )
    close_clients()
