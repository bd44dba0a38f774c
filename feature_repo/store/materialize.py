"""Incremental, idempotent materialization from the offline store into the online store."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from feature_repo.store.repo import get_store
from gfm.config import Config
from gfm.errors import StageError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class MaterializeResult:
    """What a materialize call did.

    Attributes:
        end: The end of the interval materialized.
        intervals: Feature view -> (start, end) for each view that had something new.
        up_to_date: Feature views already materialized up to ``end`` (nothing to do).
        seconds: Wall time.

    """

    end: datetime
    intervals: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    up_to_date: list[str] = field(default_factory=list)
    seconds: float = 0.0


def training_window_end(marts_dir: Path) -> datetime:
    """The end of the training window, read from the marts.

    The transform step's record wins: ``warehouse/transform.json`` (``split.train_end``, beside
    the marts' warehouse) or ``marts/split.json`` (``train_end``). Otherwise the end of the day of
    the last training event, ``max(fct_interactions.last_event_at)``.

    Raises:
        StageError: If none is available.

    """
    split = marts_dir / "split.json"
    for record, keys in (
        (marts_dir.parent / "warehouse" / "transform.json", ("split", "train_end")),
        (split, ("train_end",)),
    ):
        if record.exists():
            value: Any = json.loads(record.read_text())
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, str):
                return _aware(datetime.fromisoformat(value))
    facts = marts_dir / "fct_interactions.parquet"
    if not facts.exists():
        raise StageError(f"cannot tell the training window end: neither {split} nor {facts} exists")
    last = pc.max(pq.read_table(facts, columns=["last_event_at"]).column(0)).as_py()
    if last is None:
        raise StageError(f"{facts} has no rows: cannot tell the training window end")
    day = _aware(last).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


def _aware(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def materialize(
    cfg: Config, end: datetime | None = None, feature_views: list[str] | None = None
) -> MaterializeResult:
    """Materialize every feature view incrementally up to ``end``.

    Each view starts where its last materialization ended (first time: ``end - ttl``, or the epoch
    for views without a TTL such as profiles and published embeddings). A view already
    materialized up to ``end`` is skipped, so calling this twice is idempotent; online writes are
    upserts by entity key in any case.

    Args:
        cfg: The config.
        end: Interval end; the training window end (``training_window_end``) when None. Pass
            ``datetime.now(UTC)`` for a live run.
        feature_views: Only these views (all registered views when None).

    Returns:
        What was materialized.

    """
    t0 = time.perf_counter()
    end = _aware(end) if end is not None else training_window_end(cfg.marts_dir)
    store = get_store(cfg)
    store.refresh_registry()  # type: ignore[no-untyped-call]
    result = MaterializeResult(end=end)
    for view in store.list_feature_views():
        if feature_views is not None and view.name not in feature_views:
            continue
        start = _start(view.most_recent_end_time, view.ttl, end)
        if start >= end:
            result.up_to_date.append(view.name)
            continue
        store.materialize(start, end, feature_views=[view.name])
        result.intervals[view.name] = (start, end)
    result.seconds = time.perf_counter() - t0
    return result


def _start(last_end: datetime | None, ttl: timedelta | None, end: datetime) -> datetime:
    if last_end is not None:
        return _aware(last_end)
    if ttl is not None and ttl.total_seconds() > 0:
        return end - ttl
    return EPOCH
