"""The raw gate's expectations: the raw log contract (docs/contracts.md, section 1) row by row.

``ingest.raw_io.load_raw`` has already refused what is wrong with a *file* (unreadable, empty,
a missing column, values that do not cast). This suite checks the rows: schema and dtypes, null
keys, duplicate ids, unknown users and items, times outside the manifest window or in the future,
negative ``ms_played``, event types, content types, text sizes, and users who signed up after
their first event.

Referential integrity scales: instead of ``ExpectColumnValuesToBeInSet`` with every catalogue id
(a Python set the size of the catalogue inside the suite, its Data Docs and its JSON), the unknown
ids are computed with a vectorised ``isin`` into a derived column (``unknown_user_id``) that holds
the offending id and is null otherwise; ``ExpectColumnValuesToBeNull`` on it fails with the count
and the offending ids as examples.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import great_expectations.expectations as gxe
import pandas as pd

from ingest.schema import COLUMNS, EVENT_TYPES, FREE_TEXT
from validation.engine import Batch
from validation.expectations import DTYPES, ExpectColumnDtypeToBeIn, expect

if TYPE_CHECKING:
    from typing import Any

    from gfm.config import ValidationConfig
    from ingest.manifest import RawManifest
    from ingest.raw_io import RawTables

_KEYS = {"interactions": "event_id", "items": "item_id", "users": "user_id"}
_CLOCK_SLACK = pd.Timedelta(seconds=1)
_REQUIRED = {
    "interactions": ("event_id", "user_id", "item_id", "event_at", "event_type", "ms_played"),
    "items": ("item_id", "content_type"),
    "users": ("user_id",),
}


def raw_batches(
    tables: RawTables,
    manifest: RawManifest,
    vcfg: ValidationConfig,
    *,
    source: str,
    now: datetime | None = None,
) -> list[Batch]:
    """Pair the three raw tables with their expectations.

    Args:
        tables: The raw tables as ``load_raw`` returns them.
        manifest: The batch's manifest (window, content types).
        vcfg: Validation settings (future tolerance, text size limit).
        source: The raw folder, for the summary.
        now: The current time (tests pass a fixed one); defaults to the wall clock.

    Returns:
        One :class:`Batch` per table.

    """
    now = now or datetime.now(UTC)
    frames = tables.as_dict()
    batches = []
    for table, frame in frames.items():
        checks = _schema(table) + _keys(table)
        if table == "interactions":
            frame = frame.assign(
                unknown_user_id=_unknown(frame, "user_id", frames["users"]),
                unknown_item_id=_unknown(frame, "item_id", frames["items"]),
            )
            checks += _interactions(manifest, vcfg, now)
        elif table == "items":
            checks += _items(manifest, vcfg)
        elif table == "users":
            frame = frame.assign(signup_after_events=_signup_after_events(frame, frames["interactions"]))
            checks += _users()
        batches.append(Batch(table=table, source=f"{source}/{table}", frame=frame, expectations=checks))
    return batches


def _unknown(frame: pd.DataFrame, column: str, catalogue: pd.DataFrame) -> pd.Series:
    """``frame[column]`` where it is not a ``catalogue[column]`` id, null elsewhere."""
    if column not in frame or column not in catalogue:
        return pd.Series(pd.NA, index=frame.index, dtype="Int64")
    ids = frame[column].astype("Int64")
    known = ids.isin(catalogue[column].dropna().unique())
    return ids.where(~known & ids.notna())


def _signup_after_events(users: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Per user, a readable note where ``signup_at`` is after the user's first event; null elsewhere.

    A second of slack absorbs generators that round the signup time but floor event times.
    """
    if not (_is_utc_time(users, "signup_at") and _is_utc_time(events, "event_at")) or not (
        "user_id" in users and "user_id" in events
    ):  # a missing or mistyped column fails the schema checks instead
        return pd.Series(pd.NA, index=users.index, dtype="string")
    first = events.dropna(subset=["user_id"]).groupby("user_id")["event_at"].min()
    first_at = users["user_id"].map(first)
    late = (users["signup_at"] > first_at + _CLOCK_SLACK).fillna(False).astype(bool)
    notes = pd.Series(pd.NA, index=users.index, dtype="string")
    if late.any():
        rows = users[late]
        notes[late] = [
            f"user {uid}: signup {signup:%Y-%m-%d %H:%M:%S} > first event {event:%Y-%m-%d %H:%M:%S} UTC"
            for uid, signup, event in zip(rows["user_id"], rows["signup_at"], first_at[late], strict=True)
        ]
    return notes


def _is_utc_time(frame: pd.DataFrame, column: str) -> bool:
    return column in frame and isinstance(frame[column].dtype, pd.DatetimeTZDtype)


def _schema(table: str) -> list[Any]:
    return [
        expect(
            ExpectColumnDtypeToBeIn,
            f"{table}.{column} exists with the contract type ({kind})",
            column=column,
            dtypes=DTYPES[kind],
        )
        for column, kind in COLUMNS[table].items()
    ]


def _keys(table: str) -> list[Any]:
    key = _KEYS[table]
    checks = [
        expect(gxe.ExpectColumnValuesToNotBeNull, f"{table}.{column} is not null", column=column)
        for column in _REQUIRED[table]
    ]
    checks.append(expect(gxe.ExpectColumnValuesToBeUnique, f"{table}.{key} is unique", column=key))
    return checks


def _interactions(manifest: RawManifest, vcfg: ValidationConfig, now: datetime) -> list[Any]:
    start = pd.Timestamp(manifest.window_start).tz_convert(UTC)
    end = pd.Timestamp(manifest.window_end).tz_convert(UTC)
    latest = pd.Timestamp(now + timedelta(hours=vcfg.future_tolerance_hours)).tz_convert(UTC)
    return [
        expect(gxe.ExpectColumnValuesToBeNull, "user_id exists in users (unknown ids shown)",
               column="user_id", on="unknown_user_id"),
        expect(gxe.ExpectColumnValuesToBeNull, "item_id exists in items (unknown ids shown)",
               column="item_id", on="unknown_item_id"),
        expect(gxe.ExpectColumnValuesToBeBetween, f"event_at is not before the window start {start.isoformat()}",
               column="event_at", min_value=start),
        expect(gxe.ExpectColumnValuesToBeBetween, f"event_at is before the window end {end.isoformat()}",
               column="event_at", max_value=end, strict_max=True),
        expect(gxe.ExpectColumnValuesToBeBetween,
               f"event_at is not in the future (now + {vcfg.future_tolerance_hours} h)",
               column="event_at", max_value=latest),
        expect(gxe.ExpectColumnValuesToBeInSet, f"event_type is one of {', '.join(EVENT_TYPES)}",
               column="event_type", value_set=list(EVENT_TYPES)),
        expect(gxe.ExpectColumnValuesToBeBetween, "ms_played is >= 0", column="ms_played", min_value=0),
    ]  # fmt: skip


def _users() -> list[Any]:
    return [
        expect(gxe.ExpectColumnValuesToBeNull, "signup_at is not after the user's first event",
               column="signup_at", on="signup_after_events"),
    ]  # fmt: skip


def _items(manifest: RawManifest, vcfg: ValidationConfig) -> list[Any]:
    checks = [
        expect(gxe.ExpectColumnValuesToBeInSet,
               f"content_type is one the manifest lists ({', '.join(manifest.content_types)})",
               column="content_type", value_set=list(manifest.content_types)),
    ]  # fmt: skip
    checks += [
        expect(
            gxe.ExpectColumnValueLengthsToBeBetween,
            f"{column} is at most {vcfg.max_text_chars} characters",
            column=column,
            max_value=vcfg.max_text_chars,
        )
        for column in sorted(FREE_TEXT)
    ]
    return checks
