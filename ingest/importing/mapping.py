"""The mapping of ``gfm import logs``: the user's column names and vocabulary -> the raw contract.

A mapping is a YAML file (or the same keys given as CLI flags)::

    source: acme listening logs        # free text, recorded in the manifest
    timezone: Europe/Berlin            # for timestamps without an offset (else they are refused)
    events:
      columns: {user_id: listener, item_id: show, event_at: played_at,
                event_type: action, ms_played: seconds}
      play_time_unit: s
      event_types: {play: stream, subscribe: follow, sample: preview, buy: intent_to_pay}
      ignore: [pause]                  # event values dropped on purpose
      # event_type: stream             # instead of a column: every row is this event
    items:                             # optional; without a path, item columns come from the events
      path: shows.csv                  # relative to the mapping file
      columns: {item_id: show, title: name, description: blurb, content_type: kind}
      # content_type: podcast          # instead of a column: one type for every item
    users:                             # optional; without it every user with an event, attributes unknown
      path: listeners.parquet
      columns: {user_id: listener, country: cc}
    split: {train_days: null, eval_days: 14}   # the default; short logs get a quarter of their days

Every contract column left out of ``columns`` is the contract's own name if the file has it,
otherwise a placeholder (``unknown``, empty text, the first event) that the manifest's traits record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gfm.errors import RawInputError
from ingest.manifest import SourceName, SuggestedSplit
from ingest.schema import COLUMNS

#: Nominal play time of a stream when the logs hold none (as in ``gfm import lightgcn``): 10 minutes.
NOMINAL_STREAM_MS = 600_000
_UNIT_MS = {"ms": 1, "s": 1000}
EventType = Literal["stream", "follow", "preview", "intent_to_pay"]  # ingest.schema.EVENT_TYPES


def _identity_events() -> dict[str, EventType]:
    """The default vocabulary: the logs already use the contract's event names."""
    names: tuple[EventType, ...] = ("stream", "follow", "preview", "intent_to_pay")
    return {name: name for name in names}


class EventsMapping(BaseModel):
    """How to read the event files (the paths come from the command line)."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = {}
    event_types: dict[str, EventType] = Field(default_factory=_identity_events)
    ignore: list[str] = []
    play_time_unit: Literal["ms", "s"] = "ms"
    nominal_stream_ms: int = Field(default=NOMINAL_STREAM_MS, gt=0)
    event_type: EventType | None = None  # logs of one kind of event (e.g. plays): no event column

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        return _check_columns(columns, "interactions", "events")

    @model_validator(mode="after")
    def _ignored_are_unmapped(self) -> EventsMapping:
        both = sorted(set(self.ignore) & set(self.event_types))
        if both:
            raise ValueError(f"event value(s) {both} are both mapped and ignored")
        if self.event_type is not None and "event_type" in self.columns:
            raise ValueError("give events.event_type (a constant) or events.columns.event_type, not both")
        return self

    @property
    def ms_factor(self) -> int:
        """Milliseconds per unit of the play-time column."""
        return _UNIT_MS[self.play_time_unit]


class TableMapping(BaseModel):
    """An optional items or users file and its columns (``path`` relative to the mapping file)."""

    model_config = ConfigDict(extra="forbid")

    path: Path | None = None
    columns: dict[str, str] = {}


class ItemsMapping(TableMapping):
    """The items file (or the item columns of the event files); ``content_type`` is a constant.

    The content type comes from a column (``columns: {content_type: kind}``) or is one value for
    every item (``content_type: podcast``), never both.
    """

    content_type: str | None = Field(default=None, min_length=1)

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        return _check_columns(columns, "items", "items")

    @model_validator(mode="after")
    def _one_content_type_rule(self) -> ItemsMapping:
        if self.content_type is not None and "content_type" in self.columns:
            raise ValueError("give items.content_type (a constant) or items.columns.content_type, not both")
        return self


class UsersMapping(TableMapping):
    """The users file."""

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        return _check_columns(columns, "users", "users")


class Mapping(BaseModel):
    """A whole mapping from someone's logs to the raw contract (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    source: SourceName = "imported logs"
    timezone: str | None = None
    time_format: str | None = None  # strptime format for text times that are not ISO-8601
    epoch_unit: Literal["s", "ms", "us"] | None = None  # for times stored as numbers
    events: EventsMapping = EventsMapping()
    items: ItemsMapping = ItemsMapping()
    users: UsersMapping | None = None
    split: SuggestedSplit | None = None  # None: all history, then the last 14 days (less for short logs)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(
                    f"unknown time zone {zone!r} (use an IANA name such as UTC or Europe/Berlin)"
                ) from exc
        return zone


def load_mapping(path: Path | None, overrides: dict[str, object] | None = None) -> tuple[Mapping, Path]:
    """Read a mapping file and apply CLI overrides (dotted keys, e.g. ``events.columns.user_id``).

    Args:
        path: The YAML file, or None for the defaults (contract column names, identity events).
        overrides: Values set on the command line; they win over the file.

    Returns:
        The mapping and the folder its relative paths are resolved against.

    Raises:
        RawInputError: If the file is missing, not YAML, or breaks the mapping schema (the
            message names the key).

    """
    data: dict[str, object] = {}
    name = str(path) if path else "command-line mapping"
    if path is not None:
        if not path.is_file():
            raise RawInputError("mapping file not found", file=name)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise RawInputError(f"mapping is not valid YAML: {exc}", file=name) from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise RawInputError("a mapping file holds a YAML mapping (key: value)", file=name)
        data = loaded or {}
    for dotted, value in (overrides or {}).items():
        _set(data, dotted.split("."), value)
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"]) or None
        raise RawInputError(f"invalid mapping: {error['msg']}", file=name, column=key) from exc
    return mapping, (path.parent if path else Path.cwd())


def _set(data: dict[str, object], keys: list[str], value: object) -> None:
    for key in keys[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = {}
            data[key] = child
        data = child
    data[keys[-1]] = value


def _check_columns(columns: dict[str, str], table: str, section: str) -> dict[str, str]:
    unknown = sorted(set(columns) - set(COLUMNS[table]))
    if unknown:
        raise ValueError(
            f"{section}.columns maps unknown contract column(s) {unknown}; known: {', '.join(COLUMNS[table])}"
        )
    return columns
