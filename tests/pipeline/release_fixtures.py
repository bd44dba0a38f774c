"""Builders for the release tests: exported versions, a published data dir, every reader's view."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from gfm import releases
from gfm.config import Config
from pipeline import release

REPO = Path(__file__).resolve().parents[2]
DIM = 16  # index_suite.write_export's vector dim


def make_config(data_dir: Path, project: str | None = None) -> Config:
    """A Lite config with a private Feast project and 16-d models (the fixture vectors)."""
    return Config.load(
        data_dir=data_dir,
        environ={},
        overrides={
            "features": {"project": project or f"gfmrel_{uuid.uuid4().hex[:10]}"},
            "hgnn": {"out_dim": DIM},
            "two_tower": {"dim": DIM},
        },
    )


def export(cfg: Config, version: str, seed: int) -> None:
    """Exports of one version: two-tower items and users, HGNN items (unit vectors)."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "vector_index"))
    from index_suite import write_export

    write_export(cfg, "two_tower", version, seed=seed)
    write_export(cfg, "hgnn", version, seed=seed + 1000)
    (cfg.embeddings_dir / "hgnn" / version / "users.parquet").unlink()


def copy_export(cfg: Config, source: str, version: str) -> None:
    """Another version id over the same vectors (a rerun of the same data)."""
    for model in ("two_tower", "hgnn"):
        shutil.copytree(cfg.embeddings_dir / model / source, cfg.embeddings_dir / model / version)


def gated(cfg: Config, version: str) -> None:
    """Record a run of ``version`` that passed every gate (this process builds it)."""
    releases.start_run(cfg.data_dir, version)
    releases.transition(cfg.data_dir, version, "gated")


def publish(cfg: Config, version: str) -> None:
    """Run the publish of a gated version."""
    gated(cfg, version)
    release.publish(cfg, version, why="test publish")


def readers(cfg: Config) -> dict[str, Any]:
    """What every reader calls live: the record, Feast (pointer, stable services), Milvus aliases."""
    from feature_repo.client import EmbeddingClient
    from feature_repo.store.services import live_service_version
    from vector_index.ops import live_versions

    aliases = live_versions(cfg)
    return {
        "record": releases.read_record(cfg.data_dir).live,
        "feast": EmbeddingClient(cfg).current_versions().get("two_tower"),
        "feast_hgnn": EmbeddingClient(cfg).current_versions().get("hgnn"),
        "item_embeddings": live_service_version(cfg, "item"),
        "user_embeddings": live_service_version(cfg, "user"),
        "item_two_tower": aliases["item_two_tower"],
        "user_two_tower": aliases["user_two_tower"],
        "item_hgnn": aliases["item_hgnn"],
    }


def all_on(cfg: Config, version: str | None) -> dict[str, Any]:
    """``readers`` as it must be when every one of them is on ``version``."""
    return dict.fromkeys(readers(cfg), version)


def expected_recommendations(cfg: Config, version: str, user_id: int, k: int) -> list[int]:
    """Top-k item ids for a user by exact inner product within one version (consumed left out)."""
    folder = cfg.embeddings_dir / "two_tower" / version
    users = pq.read_table(folder / "users.parquet").to_pandas().set_index("user_id")
    items = pq.read_table(folder / "items.parquet").to_pandas()
    user = np.asarray(users.loc[user_id, "vector"], np.float32)
    scores = np.stack(items["vector"].to_list()).astype(np.float32) @ user
    ranking = items["item_id"].to_numpy()[np.argsort(-scores)]
    consumed = pq.read_table(cfg.marts_dir / "fct_interactions.parquet").to_pandas()
    mine = set(consumed.loc[consumed.user_id == user_id, "item_id"].tolist())
    return [int(i) for i in ranking if int(i) not in mine][:k]
