"""The raw log contract (docs/contracts.md, section 1) as data: tables, columns and their types."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

Kind = Literal["id", "text", "timestamp", "int"]

TABLES: tuple[str, ...] = ("interactions", "items", "users")

#: Column name -> kind, per table, in contract order.
COLUMNS: dict[str, dict[str, Kind]] = {
    "interactions": {
        "event_id": "text",
        "user_id": "id",
        "item_id": "id",
        "event_at": "timestamp",
        "event_type": "text",
        "ms_played": "int",
    },
    "items": {
        "item_id": "id",
        "content_type": "text",
        "title": "text",
        "description": "text",
        "language": "text",
        "genre": "text",
        "creator_id": "text",
        "published_at": "timestamp",
    },
    "users": {
        "user_id": "id",
        "country": "text",
        "age_bucket": "text",
        "signup_at": "timestamp",
    },
}

#: Free-text columns: an empty CSV field is the empty string here, not null.
FREE_TEXT: frozenset[str] = frozenset({"title", "description"})

EVENT_TYPES: tuple[str, ...] = ("stream", "follow", "preview", "intent_to_pay")

#: Timestamps are stored as microseconds, UTC (DuckDB reads them as TIMESTAMP WITH TIME ZONE).
TIMESTAMP = pa.timestamp("us", tz="UTC")

_ARROW: dict[Kind, pa.DataType] = {
    "id": pa.int64(),
    "int": pa.int64(),
    "text": pa.string(),
    "timestamp": TIMESTAMP,
}


def arrow_schema(table: str) -> pa.Schema:
    """Return the Arrow schema of a contract table (what every writer in ``ingest`` produces)."""
    return pa.schema([pa.field(name, _ARROW[kind]) for name, kind in COLUMNS[table].items()])
