"""A tiny, structured world in the marts contract for two-tower and evaluation tests.

Users and items belong to latent topics; users consume items of their topic, so a model can
learn something in a few steps. Also a point-in-time feature retrieval written with pandas
``merge_asof``: a test double of ``feature_repo.store.get_training_frame`` for fast unit tests only
(the slow test beside them runs the real Feast retrieval).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from embedding_jobs.export import write_vectors
from embedding_jobs.text_features import text_features_path
from gfm.config import Config
from gfm.naming import export_path
from ingest.manifest import RawManifest, write_manifest

TRAIN_END = datetime(2026, 10, 17, tzinfo=UTC)
HGNN_VERSION = "v20261017t000000_abcdef"
TYPES = ("audiobook", "podcast")


def _ts(values) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[us, UTC]")


def build_world(
    data_dir: Path,
    users: int = 60,
    items: int = 48,
    topics: int = 4,
    days: int = 10,
    seed: int = 0,
    fixed_split: bool = False,
) -> Config:
    """Write marts, split.json, text and HGNN vectors under ``data_dir``; return its config."""
    rng = np.random.default_rng(seed)
    cfg = Config(data_dir=data_dir)
    cfg.two_tower.epochs = 3
    cfg.two_tower.batch_size = 32
    cfg.two_tower.hidden_dim = 32
    cfg.two_tower.device = "cpu"
    marts = cfg.marts_dir
    marts.mkdir(parents=True, exist_ok=True)
    start = TRAIN_END - timedelta(days=days)
    built = _ts([TRAIN_END + timedelta(days=14)]).iloc[0]
    user_ids = np.arange(1, users + 1, dtype=np.int64)
    item_ids = np.arange(1001, 1001 + items, dtype=np.int64)
    u_topic = rng.integers(0, topics, users)
    i_topic = np.arange(items) % topics
    i_type = np.where(np.arange(items) % 3 == 0, "audiobook", "podcast")
    late_users = user_ids[-6:]  # sign up in the eval window: cold users
    signup = np.where(
        np.isin(user_ids, late_users), TRAIN_END + timedelta(days=2), start - timedelta(days=30)
    )
    rows, evals = [], []
    for u, t in zip(user_ids, u_topic, strict=True):
        own = item_ids[i_topic == t]
        picks = rng.choice(own, size=min(len(own), 9), replace=False)
        train, later = (picks[:0], picks) if u in late_users else (picks[:6], picks[6:])
        for it in train:
            at = start + timedelta(days=int(rng.integers(0, days)), hours=int(rng.integers(0, 24)))
            rows.append((u, it, 3, 1 if rng.random() < 0.3 else 0, 0, 0, True, at))
        for it in later:
            if rng.random() < 0.5 and u not in late_users:  # a follow in training, a stream later
                rows.append((u, it, 0, 1, 1, 0, False, start + timedelta(days=days - 2)))
            evals.append((u, it, TRAIN_END + timedelta(days=int(rng.integers(0, 14)))))
    fct = pd.DataFrame(
        rows,
        columns=[
            "user_id",
            "item_id",
            "n_streams",
            "n_follows",
            "n_previews",
            "n_intent_to_pay",
            "is_consumed",
            "first_event_at",
        ],
    )
    type_of = dict(zip(item_ids, i_type, strict=True))
    fct["content_type"] = fct["item_id"].map(type_of)
    fct["first_event_at"] = _ts(fct["first_event_at"])
    fct["last_event_at"] = fct["first_event_at"]
    fct["ms_played_total"] = fct["n_streams"] * 60_000
    fct["weight"] = np.log1p(fct["n_streams"]) + 0.5 * (fct["n_follows"] + fct["n_previews"])
    warm = set(fct.loc[fct["is_consumed"], "user_id"])
    consumed_pairs = set(
        zip(fct.loc[fct["is_consumed"], "user_id"], fct.loc[fct["is_consumed"], "item_id"], strict=True)
    )
    ev = pd.DataFrame(evals, columns=["user_id", "item_id", "first_event_at"])
    ev["first_event_at"] = _ts(ev["first_event_at"])
    ev["content_type"] = ev["item_id"].map(type_of)
    ev["is_cold_user"] = ~ev["user_id"].isin(warm)
    n_train = fct.loc[fct["is_consumed"]].groupby("item_id").size()
    ev["is_cold_item"] = ~ev["item_id"].isin(n_train.index)
    ev["in_train"] = [(u, i) in consumed_pairs for u, i in zip(ev["user_id"], ev["item_id"], strict=True)]

    dim_users = pd.DataFrame(
        {
            "user_id": user_ids,
            "country": np.array(["SE", "US", "DE", "BR"])[u_topic],  # the profile carries the topic
            "age_bucket": rng.choice(["18-24", "25-34"], users),
            "signup_at": _ts(signup),
            "n_train_items": [int((fct["user_id"] == u).sum()) for u in user_ids],
            "is_cold": ~np.isin(user_ids, list(warm)),
            "created_at": built,
        }
    )
    dim_items = pd.DataFrame(
        {
            "item_id": item_ids,
            "content_type": i_type,
            "title": [f"item {i}" for i in item_ids],
            "description": "",
            "language": "en",
            "genre": np.array(["news", "crime", "comedy", "history"])[i_topic % 4],
            "creator_id": [f"c{i % 7}" for i in item_ids],
            "published_at": _ts([start - timedelta(days=100)] * items),
            "n_train_users": n_train.reindex(item_ids, fill_value=0).to_numpy(),
            "is_cold": ~np.isin(item_ids, n_train.index),
            "created_at": built,
        }
    )
    day_ends = [start + timedelta(days=d + 1) for d in range(days)]
    udaily = []
    for end in day_ends:  # cumulative counts as of each day's end
        seen = fct.loc[fct["first_event_at"] < end]
        day = pd.DataFrame({"user_id": user_ids, "feature_at": end})
        by_user = seen.groupby("user_id")
        day["n_streams_90d"] = day["user_id"].map(by_user["n_streams"].sum()).fillna(0).astype(int)
        for t in TYPES:
            per = seen.loc[seen["content_type"] == t].groupby("user_id")["n_streams"].sum()
            day[f"n_streams_90d_{t}"] = day["user_id"].map(per).fillna(0).astype(int)
        day["n_follows_90d"] = day["user_id"].map(by_user["n_follows"].sum()).fillna(0).astype(int)
        day["n_previews_90d"] = day["user_id"].map(by_user["n_previews"].sum()).fillna(0).astype(int)
        day["n_intent_to_pay_90d"] = 0
        day["n_items_90d"] = day["user_id"].map(by_user.size()).fillna(0).astype(int)
        udaily.append(day)
    user_daily = pd.concat(udaily, ignore_index=True)
    user_daily["feature_at"] = _ts(user_daily["feature_at"])
    user_daily.insert(2, "created_at", built)
    idaily = pd.DataFrame(
        [
            (i, end, int(n_train.get(i, 0)), int(n_train.get(i, 0)), 100 + d)
            for i in item_ids
            for d, end in enumerate(day_ends)
        ],
        columns=["item_id", "feature_at", "n_streams_total", "n_listeners_total", "age_days"],
    )
    idaily["feature_at"] = _ts(idaily["feature_at"])
    idaily["created_at"] = built
    idaily["n_streams_1d"] = 1
    idaily["n_listeners_1d"] = 1
    marts_frames = {
        "dim_users": dim_users,
        "dim_items": dim_items,
        "fct_interactions": fct,
        "fct_eval_interactions": ev,
        "user_features_daily": user_daily,
        "item_features_daily": idaily,
    }
    for name, frame in marts_frames.items():
        frame.to_parquet(marts / f"{name}.parquet", index=False)
    (marts / "split.json").write_text(json.dumps({"train_end": TRAIN_END.isoformat()}))
    cfg.raw_dir.mkdir(parents=True, exist_ok=True)
    manifest = RawManifest(
        source="synthetic",
        created_at=built.to_pydatetime(),
        window_start=start,
        window_end=TRAIN_END + timedelta(days=14),
        content_types=list(TYPES),
        fixed_split=fixed_split,
    )
    write_manifest(manifest, cfg.raw_dir)
    centres = rng.normal(size=(topics, 16))
    text = centres[i_topic] + 0.8 * rng.normal(size=(items, 16))
    write_vectors(text_features_path(cfg), "item_id", item_ids, text.astype(np.float32), None)
    hgnn = centres[i_topic][:, :8] + 0.3 * rng.normal(size=(items, 8))
    hgnn /= np.linalg.norm(hgnn, axis=1, keepdims=True)
    write_vectors(
        export_path(cfg.embeddings_dir, "hgnn", HGNN_VERSION, "item"),
        "item_id",
        item_ids,
        hgnn.astype(np.float32),
        HGNN_VERSION,
    )
    return cfg


# view -> (mart, key, timestamp column, TTL days or None)
_VIEWS = {
    "user_profile": ("dim_users", "user_id", "signup_at", None),
    "user_activity": ("user_features_daily", "user_id", "feature_at", 90),
    "item_profile": ("dim_items", "item_id", "published_at", None),
    "item_stats": ("item_features_daily", "item_id", "feature_at", 90),
}


def pandas_point_in_time(cfg: Config, entity_df: pd.DataFrame, features: list[str] | None) -> pd.DataFrame:
    """Test double of ``feature_repo.store.get_training_frame``: a point-in-time join with merge_asof."""
    assert features is not None
    out = entity_df.copy()
    out["_order"] = np.arange(len(out))
    by_view: dict[str, list[str]] = {}
    for ref in features:
        view, name = ref.split(":")
        by_view.setdefault(view, []).append(name)
    for view, names in by_view.items():
        mart, key, ts, ttl = _VIEWS[view]
        src = pd.read_parquet(cfg.marts_dir / f"{mart}.parquet")[[key, ts, *names]].rename(
            columns={ts: "_ts"}
        )
        src = src.sort_values("_ts")
        left = out.sort_values("event_timestamp")
        merged = pd.merge_asof(
            left, src, left_on="event_timestamp", right_on="_ts", by=key, direction="backward"
        )
        if ttl is not None:
            stale = merged["event_timestamp"] - merged["_ts"] > pd.Timedelta(days=ttl)
            merged.loc[stale, names] = np.nan
        out = merged.drop(columns="_ts").sort_values("_order")
    return out.drop(columns="_order").reset_index(drop=True)


@contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models train fastest on one thread (two threads on two busy cores spin-wait)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def selection_and_refit(cfg: Config, version: str, hgnn_version: str, monkeypatch) -> tuple:
    """Train with a random validation slice and return what the selection run and the refit read.

    Returns ``(chosen_on, rows, val, refit_on)``: the selection run's ``Inputs``, the example
    rows, the ``Validation`` slice and the refit's ``Inputs`` (one candidate: no ``choose_ids``).
    """
    import embedding_jobs.two_tower_fit as two_tower_fit
    from embedding_jobs.train_two_tower import train_two_tower

    seen = []
    real_fit = two_tower_fit.fit

    def spy(model, inputs, rows, *args, **kwargs):
        seen.append((inputs, rows, args[-2]))  # the validation slice, None in the refit
        return real_fit(model, inputs, rows, *args, **kwargs)

    monkeypatch.setattr(two_tower_fit, "fit", spy)
    with one_thread():
        train_two_tower(cfg, version, hgnn_version, retrieve=pandas_point_in_time)
    (chosen_on, rows, val), (refit_on, _, none) = seen
    assert val is not None and none is None
    return chosen_on, rows, val, refit_on
