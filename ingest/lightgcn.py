"""``gfm import lightgcn``: the NGCF/LightGCN train.txt/test.txt split in the raw log contract.

Mapping (documented in the README):

- Each line ``user item item ...`` gives one ``stream`` per item, with a nominal ``ms_played`` of
  10 minutes (the data are implicit feedback, every pair counts as a consumption).
- The published split is kept as a **fixed split** mapped onto time: train pairs get times spread
  uniformly over ``[window_end - 104 days, window_end - 14 days)``, test pairs over the last 14
  days. The manifest says ``fixed_split: true`` and ``eval_days: 14``, ``train_days: null`` (all
  history), so the time split reproduces the published one exactly. Times are drawn from a fixed
  seed, so imports are reproducible.
- Ids are kept as given (0-based). Items are content type ``business`` with empty title and
  description; users, items and categorical attributes unknown to the source are ``unknown``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gfm.errors import RawInputError
from ingest._source import UNKNOWN, require_files, write_batch
from ingest.manifest import RawManifest, SourceTraits, SuggestedSplit
from ingest.schema import TIMESTAMP

WINDOW_END = datetime(2019, 1, 1, tzinfo=UTC)  # after the Yelp 2018 challenge data
TRAIN_DAYS = 90
EVAL_DAYS = 14
VISIT_MS = 600_000
SEED = 2018
# user-item pairs only: no text, attributes, weak signals or play time; times drawn to map the split
TRAITS = SourceTraits(
    has_item_text=False,
    has_item_metadata=False,
    has_user_profiles=False,
    has_weak_signals=False,
    has_play_time=False,
    has_event_times=False,
)


def import_lightgcn(src: Path, raw_dir: Path) -> dict[str, int]:
    """Map a LightGCN-format folder (train.txt, test.txt) into a raw batch in ``raw_dir``.

    Args:
        src: The folder holding train.txt and test.txt.
        raw_dir: The raw folder to (re)create (replaced atomically).

    Returns:
        Row counts by table.

    Raises:
        RawInputError: If a file is missing or a line holds a token that is not an integer.

    """
    require_files(src, ["train.txt", "test.txt"], "LightGCN")
    eval_start = WINDOW_END - timedelta(days=EVAL_DAYS)
    window_start = eval_start - timedelta(days=TRAIN_DAYS)
    rng = np.random.default_rng(SEED)
    parts = []
    for name, prefix, lo, hi in (
        ("train.txt", "tr", window_start, eval_start),
        ("test.txt", "te", eval_start, WINDOW_END),
    ):
        users, items = read_pairs(src / name)
        lo_s, span_s = int(lo.timestamp()), int((hi - lo).total_seconds())
        seconds = lo_s + rng.integers(0, span_s, size=len(users))
        order = np.argsort(seconds, kind="stable")  # time order: the writer need not reorder
        parts.append(_events(prefix, users[order], items[order], seconds[order]))
    events = pa.concat_tables(parts)
    n_users = int(pc.max(events["user_id"]).as_py()) + 1
    n_items = int(pc.max(events["item_id"]).as_py()) + 1
    start_us = pa.scalar(int(window_start.timestamp()) * 1_000_000, TIMESTAMP)
    users_t = pa.table(
        {
            "user_id": pa.array(np.arange(n_users, dtype=np.int64)),
            "country": pa.array([UNKNOWN] * n_users),
            "age_bucket": pa.array([UNKNOWN] * n_users),
            "signup_at": pa.array([start_us] * n_users, TIMESTAMP),
        }
    )
    empty = pa.array([""] * n_items)
    unknown = pa.array([UNKNOWN] * n_items)
    items_t = pa.table(
        {
            "item_id": pa.array(np.arange(n_items, dtype=np.int64)),
            "content_type": pa.array(["business"] * n_items),
            "title": empty,
            "description": empty,
            "language": unknown,
            "genre": unknown,
            "creator_id": unknown,
            "published_at": pa.array([start_us] * n_items, TIMESTAMP),
        }
    )
    manifest = RawManifest(
        source="lightgcn",
        created_at=datetime.now(UTC),
        seed=SEED,
        window_start=window_start,
        window_end=WINDOW_END,
        content_types=["business"],
        fixed_split=True,
        suggested_split=SuggestedSplit(train_days=None, eval_days=EVAL_DAYS),
        traits=TRAITS,
    )
    return write_batch(raw_dir, {"interactions": events, "items": items_t, "users": users_t}, manifest)


def read_pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``user item item ...`` lines into aligned (user, item) int64 arrays.

    Raises:
        RawInputError: If a token is not a non-negative integer (names the file and line).

    """
    lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    tokens = [line.split() for line in lines]
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    try:
        values = pc.cast(pa.array(itertools.chain.from_iterable(tokens), pa.string()), pa.int64()).to_numpy()
    except pa.ArrowInvalid as exc:
        line = next(i for i, t in enumerate(tokens, 1) if not all(tok.isdigit() for tok in t))
        raise RawInputError(
            f"not an integer id on line {line}: {lines[line - 1][:80]!r}", file=str(path), count=1
        ) from exc
    if (values < 0).any():
        raise RawInputError("negative id", file=str(path), count=int((values < 0).sum()))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    has_items = lengths > 1
    users = np.repeat(values[starts[has_items]], lengths[has_items] - 1)
    is_user_token = np.zeros(len(values), dtype=bool)
    is_user_token[starts[lengths > 0]] = True
    return users, values[~is_user_token]


def _events(prefix: str, users: np.ndarray, items: np.ndarray, seconds: np.ndarray) -> pa.Table:
    u = pc.cast(pa.array(users), pa.string())
    i = pc.cast(pa.array(items), pa.string())
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise(prefix, u, "-", i, ""),
            "user_id": pa.array(users),
            "item_id": pa.array(items),
            "event_at": pa.array(seconds * 1_000_000, TIMESTAMP),
            "event_type": pa.array(["stream"] * len(users)),
            "ms_played": pa.array(np.full(len(users), VISIT_MS, dtype=np.int64)),
        }
    )
