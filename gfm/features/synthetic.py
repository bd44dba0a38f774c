"""Contract-shaped mart Parquet files of any size, for tests and benchmarks of the feature store.

The real marts come from dbt (docs/contracts.md, section 2). These files have the same columns
and types, filled with random values, so the feature store can be tested and benchmarked without
running the warehouse. They are not a model of listening behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SyntheticMarts:
    """What to write.

    Attributes:
        users: Number of users (ids 1..users).
        items: Number of items (ids 1..items).
        days: Days of daily feature rows per entity.
        end: End of the last day (the training window end).
        content_types: Content types; one ``n_streams_90d_<type>`` column each.
        seed: Random seed.

    """

    users: int = 50
    items: int = 40
    days: int = 10
    end: datetime = datetime(2026, 10, 17, tzinfo=UTC)
    content_types: tuple[str, ...] = ("audiobook", "podcast")
    seed: int = 0


def _ts(values: pd.DatetimeIndex | pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[us, UTC]")


def write_synthetic_marts(marts_dir: Path, spec: SyntheticMarts = SyntheticMarts()) -> dict[str, int]:
    """Write dim_users, dim_items, user/item_features_daily and fct_interactions to ``marts_dir``.

    Returns:
        Rows written per mart.

    """
    rng = np.random.default_rng(spec.seed)
    marts_dir.mkdir(parents=True, exist_ok=True)
    start = spec.end - timedelta(days=spec.days)
    built = _ts(pd.DatetimeIndex([spec.end] * 1)).iloc[0]
    user_ids = np.arange(1, spec.users + 1, dtype=np.int64)
    item_ids = np.arange(1, spec.items + 1, dtype=np.int64)
    signup = _ts(pd.Timestamp(start) - pd.to_timedelta(rng.integers(1, 400, spec.users), unit="D"))
    frames: dict[str, pd.DataFrame] = {}
    frames["dim_users"] = pd.DataFrame(
        {
            "user_id": user_ids,
            "country": rng.choice(["SE", "US", "DE", "BR"], spec.users),
            "age_bucket": rng.choice(["18-24", "25-34", "35-44"], spec.users),
            "signup_at": signup,
            "n_train_items": rng.integers(0, 50, spec.users),
            "is_cold": rng.random(spec.users) < 0.1,
            "created_at": built,
        }
    )
    published = _ts(pd.Timestamp(start) - pd.to_timedelta(rng.integers(1, 900, spec.items), unit="D"))
    frames["dim_items"] = pd.DataFrame(
        {
            "item_id": item_ids,
            "content_type": rng.choice(list(spec.content_types), spec.items),
            "title": [f"item {i}" for i in item_ids],
            "description": "",
            "language": "en",
            "genre": rng.choice(["news", "crime", "comedy"], spec.items),
            "creator_id": [f"c{i % 97}" for i in item_ids],
            "published_at": published,
            "n_train_users": rng.integers(0, 100, spec.items),
            "is_cold": rng.random(spec.items) < 0.1,
            "created_at": built,
        }
    )
    day_ends = pd.date_range(start + timedelta(days=1), spec.end, periods=spec.days, tz="UTC")
    uid = np.repeat(user_ids, spec.days)
    users_daily = pd.DataFrame(
        {"user_id": uid, "feature_at": _ts(np.tile(day_ends, spec.users)), "created_at": built}
    )
    per_type = {f"n_streams_90d_{t}": rng.integers(0, 30, len(uid)) for t in spec.content_types}
    users_daily["n_streams_90d"] = sum(per_type.values())
    for name, values in per_type.items():
        users_daily[name] = values
    for name in ("n_follows_90d", "n_previews_90d", "n_intent_to_pay_90d", "n_items_90d"):
        users_daily[name] = rng.integers(0, 10, len(uid))
    frames["user_features_daily"] = users_daily
    iid = np.repeat(item_ids, spec.days)
    frames["item_features_daily"] = pd.DataFrame(
        {
            "item_id": iid,
            "feature_at": _ts(np.tile(day_ends, spec.items)),
            "created_at": built,
            "n_streams_1d": rng.integers(0, 20, len(iid)),
            "n_listeners_1d": rng.integers(0, 10, len(iid)),
            "n_streams_total": rng.integers(0, 2000, len(iid)),
            "n_listeners_total": rng.integers(0, 500, len(iid)),
            "age_days": rng.integers(0, 900, len(iid)),
        }
    )
    n_pairs = min(spec.users * 5, spec.users * spec.items, 500_000)
    last = _ts(
        pd.Timestamp(spec.end) - pd.to_timedelta(rng.integers(1, 86_400 * spec.days, n_pairs), unit="s")
    )
    frames["fct_interactions"] = pd.DataFrame(
        {
            "user_id": rng.choice(user_ids, n_pairs),
            "item_id": rng.choice(item_ids, n_pairs),
            "first_event_at": last,
            "last_event_at": last,
        }
    )
    for name, frame in frames.items():
        frame.to_parquet(marts_dir / f"{name}.parquet", index=False)
    return {name: len(frame) for name, frame in frames.items()}
