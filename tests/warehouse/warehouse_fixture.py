"""A tiny raw batch in the contract of docs/contracts.md section 1, with a hand-written user.

Random users and items give the co-consumption graph something to count; user 1 has a fixed
history whose point-in-time features are checked by hand in the tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

WINDOW_START = datetime(2026, 7, 19, tzinfo=UTC)
WINDOW_END = datetime(2026, 10, 31, tzinfo=UTC)
TRAIN_END = WINDOW_END - timedelta(days=14)  # 2026-10-17
PODCASTS = list(range(1000, 1030))
AUDIOBOOKS = list(range(2000, 2012))
COLD_ITEMS = [1028, 1029, 2011]  # published inside the evaluation window
HAND_USER = 1
HEAVY_USER = 2  # consumes more items than max_items_per_user in the tests' config
DORMANT_USER = 3  # one stream on the first day, then nothing
COLD_USERS = [79, 80]  # sign up inside the evaluation window

TS = pa.timestamp("us", tz="UTC")


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


#: user 1's whole history: (event_at, item_id, event_type, ms_played)
HAND_EVENTS = [
    (_t("2026-07-20 10:00:00"), 1000, "stream", 60_000),
    (_t("2026-07-21 10:00:00"), 1000, "stream", 10_000),  # too short to be a consumption
    (_t("2026-07-21 23:59:59"), 2000, "stream", 45_000),
    (_t("2026-07-22 00:00:00"), 1001, "follow", 0),
    (_t("2026-10-19 12:00:00"), 1000, "stream", 90_000),  # evaluation window, already seen in train
]


def write_raw_batch(raw_dir: Path, seed: int = 3, n_users: int = 80) -> Path:
    """Write interactions, items, users and ``_manifest.json`` into ``raw_dir``; return it."""
    rng = np.random.default_rng(seed)
    items = _items()
    users = _users(n_users)
    published = dict(zip(items["item_id"], items["published_at"], strict=True))
    signup = dict(zip(users["user_id"], users["signup_at"], strict=True))
    rows: list[tuple[str, int, int, datetime, str, int]] = []
    for n, (at, item, kind, ms) in enumerate(HAND_EVENTS):
        rows.append((f"hand-{n}", HAND_USER, item, at, kind, ms))
    rows.append(("dormant-0", DORMANT_USER, 1000, _t("2026-07-19 12:00:00"), "stream", 50_000))
    catalogue = np.array(PODCASTS + AUDIOBOOKS)
    podcast_pop = 1.0 / np.arange(1, len(PODCASTS) + 1) ** 0.8
    book_pop = 1.0 / np.arange(1, len(AUDIOBOOKS) + 1) ** 0.8
    for user in users["user_id"]:
        if user in (HAND_USER, DORMANT_USER):
            continue
        n_events = 60 if user == HEAVY_USER else int(rng.integers(4, 30))
        start = max(signup[user], WINDOW_START)
        span = (WINDOW_END - start).total_seconds()
        for n in range(n_events):
            if user == HEAVY_USER:
                item = int(catalogue[n % len(catalogue)])
            elif rng.uniform() < (0.6 if user % 3 == 0 else 0.1):  # every third user loves audiobooks
                item = int(rng.choice(AUDIOBOOKS, p=book_pop / book_pop.sum()))
            else:
                item = int(rng.choice(PODCASTS, p=podcast_pop / podcast_pop.sum()))
            at = start + timedelta(seconds=float(rng.uniform(0, span - 1)))
            if at < published[item]:
                at = published[item] + (WINDOW_END - published[item]) * float(rng.uniform(0, 0.99))
            kind = str(rng.choice(["stream", "stream", "stream", "follow", "preview", "intent_to_pay"]))
            ms = int(rng.choice([5_000, 40_000, 200_000])) if kind == "stream" else 0
            rows.append((f"e{user}-{n}", int(user), item, at.replace(microsecond=0), kind, ms))
    interactions = {
        "event_id": [r[0] for r in rows],
        "user_id": [r[1] for r in rows],
        "item_id": [r[2] for r in rows],
        "event_at": [r[3] for r in rows],
        "event_type": [r[4] for r in rows],
        "ms_played": [r[5] for r in rows],
    }
    raw_dir.mkdir(parents=True, exist_ok=True)
    _write(raw_dir / "interactions" / "part-0.parquet", interactions,
           {"user_id": pa.int64(), "item_id": pa.int64(), "event_at": TS, "ms_played": pa.int64()})  # fmt: skip
    _write(raw_dir / "items" / "part-0.parquet", items, {"item_id": pa.int64(), "published_at": TS})
    _write(raw_dir / "users" / "part-0.parquet", users, {"user_id": pa.int64(), "signup_at": TS})
    manifest = {
        "source": "synthetic",
        "created_at": "2026-10-31T00:00:00+00:00",
        "seed": seed,
        "window_start": WINDOW_START.isoformat(),
        "window_end": WINDOW_END.isoformat(),
        "content_types": ["audiobook", "podcast"],
        "fixed_split": False,
        "suggested_split": {"train_days": 90, "eval_days": 14},
    }
    (raw_dir / "_manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return raw_dir


def _items() -> dict[str, list]:
    ids = PODCASTS + AUDIOBOOKS
    return {
        "item_id": ids,
        "content_type": ["podcast" if i < 2000 else "audiobook" for i in ids],
        "title": [f"Title {i}" for i in ids],
        "description": ["" if i % 7 == 0 else f"About item {i}" for i in ids],
        "language": ["en"] * len(ids),
        "genre": ["news" if i % 2 else "comedy" for i in ids],
        "creator_id": [f"c{i % 9}" for i in ids],
        "published_at": [
            _t("2026-10-20 08:00:00") if i in COLD_ITEMS else _t("2026-06-01 00:00:00") for i in ids
        ],
    }


def _users(n_users: int) -> dict[str, list]:
    ids = list(range(1, n_users + 1))
    return {
        "user_id": ids,
        "country": ["SE" if u % 3 else "US" for u in ids],
        "age_bucket": ["18-24" if u % 2 else "25-34" for u in ids],
        "signup_at": [
            _t("2026-10-24 09:00:00") if u in COLD_USERS
            else _t("2026-08-15 00:00:00") if u % 10 == 5
            else _t("2026-07-01 00:00:00")
            for u in ids
        ],
    }  # fmt: skip


def _write(path: Path, columns: dict[str, list], types: dict[str, pa.DataType]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [pa.field(name, types.get(name, pa.string())) for name in columns]
    pq.write_table(pa.table(columns, schema=pa.schema(fields)), path)
