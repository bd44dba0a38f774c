"""Fixture builders and the index test suite shared by Milvus Lite and the Milvus server tests.

``IndexSuite`` holds the behaviour tests; a test module subclasses it (``TestLite``,
``TestServer``) and provides a ``cfg`` fixture whose ``milvus_uri`` points at its Milvus.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gfm.config import Config
from gfm.errors import DimensionError, NotFoundError, StageError
from vector_index import close_clients, ops
from vector_index.filters import FilterError
from vector_index.search import VectorSearcher

V1 = "v20261130t013200_ab12cd"
V2 = "v20261201t013200_cd34ef"
TYPES = ("audiobook", "podcast")
DIM = 16
REPO = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from gfm.config import Config
    from vector_index import ops

    # the parent's index section (server users included) and secrets file, with small batches
    cfg = Config.load(data_dir=sys.argv[1], environ={},
                      overrides={"index": {**json.loads(sys.argv[3]), "insert_batch": 50},
                                 "secrets_file": sys.argv[4] or None})

    def die(entity, done, total):
        if done >= 100:  # two batches in: kill -9 ourselves, mid-load
            os.kill(os.getpid(), signal.SIGKILL)

    ops.index_version(cfg, "two_tower", sys.argv[2], entities=("item",), on_batch=die)
    """
)


def write_export(
    cfg: Config, model: str, version: str, n_items: int = 300, n_users: int = 50, seed: int = 0
) -> None:
    """Random unit vectors for items/users of one version, plus dim_items and fct_interactions."""
    rng = np.random.default_rng(seed)
    out = cfg.embeddings_dir / model / version
    out.mkdir(parents=True, exist_ok=True)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    for entity, n in (("item", n_items), ("user", n_users)):
        vectors = rng.normal(size=(n, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        table = pa.table(
            {
                f"{entity}_id": pa.array(np.arange(1, n + 1) * (10 if entity == "item" else 7), pa.int64()),
                "version": [version] * n,
                "vector": pa.array(list(vectors), pa.list_(pa.float32())),
                "created_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
            }
        )
        pq.write_table(table, out / f"{entity}s.parquet")
    cfg.marts_dir.mkdir(parents=True, exist_ok=True)
    item_ids = np.arange(1, n_items + 1) * 10
    pq.write_table(
        pa.table(
            {
                "item_id": pa.array(item_ids, pa.int64()),
                "content_type": [TYPES[i % 2] for i in range(n_items)],
                "language": ["en"] * n_items,
                "genre": [f"g{i % 5}" for i in range(n_items)],
            }
        ),
        cfg.marts_dir / "dim_items.parquet",
    )
    users = np.repeat(np.arange(1, n_users + 1) * 7, 3)
    items = rng.choice(item_ids, size=len(users))
    pq.write_table(
        pa.table(
            {
                "user_id": pa.array(users, pa.int64()),
                "item_id": pa.array(items, pa.int64()),
                "is_consumed": [True] * len(users),
            }
        ),
        cfg.marts_dir / "fct_interactions.parquet",
    )


def item_vectors(cfg: Config, model: str, version: str) -> tuple[np.ndarray, np.ndarray]:
    table = pq.read_table(cfg.embeddings_dir / model / version / "items.parquet")
    ids = table.column("item_id").to_numpy()
    vectors = np.stack([np.asarray(v, np.float32) for v in table.column("vector").to_pylist()])
    return ids, vectors


class IndexSuite:
    """Behaviour of load / publish / search; subclasses provide the ``cfg`` fixture."""

    def test_load_publish_and_search_returns_exact_neighbours(self, cfg: Config) -> None:
        write_export(cfg, "two_tower", V1)
        results = ops.index_version(cfg, "two_tower", V1)
        assert [r.rows for r in results] == [300, 50]
        assert ops.publish_version(cfg, "two_tower", V1) == {"item_two_tower": None, "user_two_tower": None}
        searcher = VectorSearcher(ops.client_for(cfg), cfg.index, "item", "two_tower")
        ids, vectors = item_vectors(cfg, "two_tower", V1)
        hits = searcher.search(vectors[:3], k=5)
        exact = np.argsort(-(vectors[:3] @ vectors.T), axis=1)[:, :5]
        assert [[h.id for h in row] for row in hits] == ids[exact].tolist()
        assert hits[0][0].score == pytest.approx(1.0, abs=1e-4)

    def test_type_filter_and_exclusion_are_applied(self, cfg: Config) -> None:
        write_export(cfg, "two_tower", V1)
        ops.index_version(cfg, "two_tower", V1, entities=("item",))
        ops.publish_version(cfg, "two_tower", V1, entities=("item",))
        searcher = VectorSearcher(ops.client_for(cfg), cfg.index, "item", "two_tower")
        ids, vectors = item_vectors(cfg, "two_tower", V1)
        hits = searcher.search(
            vectors[0], k=20, content_type="podcast", exclude_ids=[int(ids[1]), int(ids[3])]
        )[0]
        assert len(hits) == 20
        got = {h.id for h in hits}
        podcast_ids = {int(i) for n, i in enumerate(ids) if TYPES[n % 2] == "podcast"}
        assert got <= podcast_ids - {int(ids[1]), int(ids[3])}
        assert searcher.content_types == list(TYPES)

    @pytest.mark.parametrize("overfetch_max", [1_000, 0], ids=["over-fetched", "in-filter"])
    def test_excluding_the_top_hits_returns_the_next_exact_neighbours(
        self, cfg: Config, overfetch_max: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Over-fetching k + |excluded| and dropping them in Python must give exactly what the
        # `id not in [...]` filter gives, even when every excluded id is a top hit.
        monkeypatch.setattr("vector_index.search.OVERFETCH_MAX", overfetch_max)
        write_export(cfg, "two_tower", V1)
        ops.index_version(cfg, "two_tower", V1, entities=("item",))
        ops.publish_version(cfg, "two_tower", V1, entities=("item",))
        searcher = VectorSearcher(ops.client_for(cfg), cfg.index, "item", "two_tower")
        ids, vectors = item_vectors(cfg, "two_tower", V1)
        podcast = np.array([TYPES[n % 2] == "podcast" for n in range(len(ids))])
        scores = np.where(podcast, vectors @ vectors[5], -np.inf)
        ranking = [int(i) for i in ids[np.argsort(-scores)][: int(podcast.sum())]]
        excluded = [*ranking[:8], int(ids[0]), 999_999]  # the 8 best, a non-podcast, an unknown id
        hits = searcher.search(vectors[5], k=10, content_type="podcast", exclude_ids=excluded)[0]
        assert [h.id for h in hits] == ranking[8:18]

    def test_filter_injection_is_refused_before_milvus(self, cfg: Config) -> None:
        write_export(cfg, "two_tower", V1)
        ops.index_version(cfg, "two_tower", V1, entities=("item",))
        ops.publish_version(cfg, "two_tower", V1, entities=("item",))
        searcher = VectorSearcher(ops.client_for(cfg), cfg.index, "item", "two_tower")
        for bad in [
            'podcast" or id > 0 or content_type == "x',
            "podcast' || true",
            "Podcast",
            "",
            "podcast\\",
        ]:
            with pytest.raises(FilterError) as err:
                searcher.search(np.ones(DIM, np.float32), k=3, content_type=bad)
            assert err.value.value == bad
            assert err.value.allowed == list(TYPES)

    def test_wrong_dimension_and_unknown_id_raise_typed_errors(self, cfg: Config) -> None:
        write_export(cfg, "two_tower", V1)
        ops.index_version(cfg, "two_tower", V1, entities=("item",))
        ops.publish_version(cfg, "two_tower", V1, entities=("item",))
        searcher = VectorSearcher(ops.client_for(cfg), cfg.index, "item", "two_tower")
        with pytest.raises(DimensionError):
            searcher.search(np.ones(DIM + 1, np.float32), k=3)
        with pytest.raises(NotFoundError):
            searcher.get_vector(11)  # item ids are multiples of 10

    def test_reloading_a_complete_version_is_a_no_op(self, cfg: Config) -> None:
        write_export(cfg, "two_tower", V1)
        first = ops.index_version(cfg, "two_tower", V1)
        again = ops.index_version(cfg, "two_tower", V1)
        assert not any(r.skipped for r in first)
        assert all(r.skipped for r in again)
        assert [v["rows"] for v in ops.list_versions(cfg)] == [300, 50]

    def test_alias_swap_and_rollback(self, cfg: Config) -> None:
        write_export(cfg, "two_tower", V1, seed=1)
        write_export(cfg, "two_tower", V2, seed=2)
        ops.index_version(cfg, "two_tower", V1, entities=("item",))
        ops.publish_version(cfg, "two_tower", V1, entities=("item",))
        ops.index_version(cfg, "two_tower", V2, entities=("item",))
        client = ops.client_for(cfg)
        from vector_index.versions import live_version

        assert live_version(client, "item_two_tower") == V1  # loading does not publish
        assert ops.publish_version(cfg, "two_tower", V2, entities=("item",)) == {"item_two_tower": V1}
        assert live_version(client, "item_two_tower") == V2
        assert ops.rollback(cfg, "item/two_tower", V1) == V2
        assert live_version(client, "item_two_tower") == V1
        live = {(v["version"], v["live"]) for v in ops.list_versions(cfg)}
        assert live == {(V1, True), (V2, False)}

    def test_publishing_an_unloaded_version_is_refused(self, cfg: Config) -> None:
        with pytest.raises(NotFoundError):
            ops.publish_version(cfg, "two_tower", V2, entities=("item",))
        with pytest.raises(NotFoundError):
            ops.index_version(cfg, "two_tower", "v1; drop", entities=("item",))

    def test_incomplete_collection_is_not_published_and_is_rebuilt(self, cfg: Config) -> None:
        write_export(cfg, "two_tower", V1)
        from vector_index.load import read_version
        from vector_index.schema import build_schema, index_params

        client = ops.client_for(cfg)
        data = read_version(cfg.embeddings_dir, cfg.marts_dir, "item", "two_tower", V1)
        name = f"item_two_tower_{V1}"  # what a load killed after its first batch leaves behind
        client.create_collection(
            name, schema=build_schema("item", DIM, True), index_params=index_params(cfg.index, 300)
        )
        client.insert(
            name,
            [{"id": 1, "vector": data.vectors[0], "content_type": "podcast", "language": "", "genre": ""}],
        )
        client.flush(name)
        with pytest.raises(StageError, match="incomplete"):
            ops.publish_version(cfg, "two_tower", V1, entities=("item",))
        [result] = ops.index_version(cfg, "two_tower", V1, entities=("item",))
        assert result.rebuilt and result.rows == 300
        ops.publish_version(cfg, "two_tower", V1, entities=("item",))

    def test_kill_9_during_load_keeps_previous_version_live_and_rerun_completes(self, cfg: Config) -> None:
        from vector_index.versions import live_version

        write_export(cfg, "two_tower", V1, seed=1)
        ops.index_version(cfg, "two_tower", V1, entities=("item",))
        ops.publish_version(cfg, "two_tower", V1, entities=("item",))
        close_clients()  # with Milvus Lite the child process must own the file
        write_export(cfg, "two_tower", V2, seed=2)
        index = cfg.index.model_dump_json(exclude={"token"})
        args = [str(cfg.data_dir), V2, index, str(cfg.secrets_file or "")]
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, *args], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr

        client = ops.client_for(cfg)  # reopen after the crash
        assert live_version(client, "item_two_tower") == V1
        partial = {v["version"]: v for v in ops.list_versions(cfg)}
        assert not partial[V2]["complete"]
        with pytest.raises(StageError, match="incomplete"):
            ops.publish_version(cfg, "two_tower", V2, entities=("item",))
        assert live_version(client, "item_two_tower") == V1
        [result] = ops.index_version(cfg, "two_tower", V2, entities=("item",))
        assert result.rebuilt and result.rows == 300
        ops.publish_version(cfg, "two_tower", V2, entities=("item",))
        assert live_version(client, "item_two_tower") == V2
