"""``gfm import logs``: build the three contract tables and the manifest from mapped files.

Events come from the files on the command line. Items come from the mapping's items file, or,
without one, from the item ids of the events (attributes from the event files' mapped columns).
Users come from the users file, or from the user ids of the events. What the files do not hold is
filled with the contract's placeholders (``unknown``, empty text, the first event's time) and
recorded in the manifest's ``traits``. The batch then faces every contract check of ``gfm validate``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from gfm.errors import RawInputError
from ingest._source import UNKNOWN, write_batch
from ingest.importing.columns import SourceFile, expand
from ingest.importing.mapping import Mapping
from ingest.manifest import RawManifest, SourceTraits, SuggestedSplit
from ingest.schema import COLUMNS, FREE_TEXT

_DAY = pd.Timedelta(days=1)
_WEAK = ("follow", "preview", "intent_to_pay")
EVAL_DAYS = 14
_PARTITION_MAX_DAYS = 400  # longer logs go in one file: daily partitions would be many tiny files


def import_logs(
    paths: list[Path], mapping: Mapping, raw_dir: Path, *, base_dir: Path, max_examples: int = 5
) -> dict[str, int]:
    """Map event files (and optional item and user files) into a raw batch in ``raw_dir``.

    Args:
        paths: Event files or folders of them (``.csv``, ``.parquet``).
        mapping: The column and vocabulary mapping (``load_mapping``).
        raw_dir: The raw folder to (re)create, atomically.
        base_dir: The folder the mapping's relative item and user paths are resolved against.
        max_examples: How many offending values an error message shows.

    Returns:
        Row counts by table.

    Raises:
        RawInputError: A file that cannot be mapped (naming the file, column and value).

    """
    columns = _event_file_columns(mapping)
    files = [SourceFile(p, columns, mapping, max_examples) for p in expand(paths)]
    events = pd.concat([_events(f, i, mapping) for i, f in enumerate(files)], ignore_index=True)
    events = events[events["event_type"].notna()].sort_values("event_at", kind="stable")
    if events.empty:
        raise RawInputError("no events left after events.ignore", file=", ".join(f.name for f in files))
    start = events["event_at"].min().floor("D")
    end = events["event_at"].max().floor("D") + _DAY
    items = _items(mapping, files, events, base_dir, max_examples)
    users = _users(mapping, events, base_dir, max_examples)
    manifest = RawManifest(
        source=mapping.source,
        created_at=datetime.now(UTC),
        window_start=start.to_pydatetime(),
        window_end=end.to_pydatetime(),
        content_types=sorted(str(t) for t in items["content_type"].dropna().unique()),
        suggested_split=mapping.split or default_split(int((end - start) / _DAY)),
        traits=_traits(events, items, users, has_play_time=all(f.has("ms_played") for f in files)),
    )
    tables = {"interactions": events[list(COLUMNS["interactions"])], "items": items, "users": users}
    long_log = (end - start) / _DAY > _PARTITION_MAX_DAYS
    return write_batch(raw_dir, tables, manifest, partition_by_day=not long_log)


def default_split(days: int) -> SuggestedSplit:
    """All history for training, the last 14 days for evaluation; a quarter of a log under 8 weeks."""
    return SuggestedSplit(
        train_days=None, eval_days=EVAL_DAYS if days >= 4 * EVAL_DAYS else max(1, days // 4)
    )


def _events(file: SourceFile, index: int, mapping: Mapping) -> pd.DataFrame:
    """One event file in contract columns; ignored event values have a null ``event_type``."""
    em = mapping.events
    event_type = file.event_types(em).to_pandas()
    out = pd.DataFrame(
        {
            "user_id": file.typed("user_id", "id").to_pandas(),
            "item_id": file.typed("item_id", "id").to_pandas(),
            "event_at": file.typed("event_at", "timestamp").to_pandas(),
            "event_type": event_type,
        }
    )
    if file.has("event_id"):
        out["event_id"] = file.typed("event_id", "text").to_pandas()
    else:  # row numbers are stable for a given file list
        out["event_id"] = [f"f{index}-{row}" for row in range(file.rows)]
    is_stream = event_type == "stream"
    if file.has("ms_played"):
        played = file.typed("ms_played", "int").to_pandas().astype("Int64") * em.ms_factor
        missing = is_stream & played.isna()
        if missing.any():
            raise RawInputError(
                "streams without a play time",
                file=file.name,
                column=file.columns.get("ms_played", "ms_played"),
                count=int(missing.sum()),
            )
        out["ms_played"] = played.fillna(0)
    else:
        out["ms_played"] = is_stream.astype("int64") * em.nominal_stream_ms
    for column in _item_columns(mapping):  # items from the events: keep their mapped attributes
        if file.has(column):
            kind = COLUMNS["items"][column]
            out[f"item__{column}"] = file.typed(column, kind).to_pandas()
    return out


def _event_file_columns(mapping: Mapping) -> dict[str, str]:
    """The event files' column mapping; without an items file, the item attributes' too."""
    columns = dict(mapping.events.columns)
    if mapping.items.path is None:
        columns |= {c: theirs for c, theirs in mapping.items.columns.items() if c != "item_id"}
    return columns


def _item_columns(mapping: Mapping) -> list[str]:
    """Item attributes the event files may hold when there is no items file."""
    if mapping.items.path is not None:
        return []
    return [c for c in COLUMNS["items"] if c != "item_id"]


def _items(
    mapping: Mapping, files: list[SourceFile], events: pd.DataFrame, base_dir: Path, max_examples: int
) -> pd.DataFrame:
    im = mapping.items
    first_event = events.groupby("item_id")["event_at"].min()
    if im.path is not None:
        f = SourceFile(base_dir / im.path, im.columns, mapping, max_examples)
        items = pd.DataFrame({"item_id": f.typed("item_id", "id").to_pandas()})
        for column, kind in COLUMNS["items"].items():
            if column != "item_id" and f.has(column) and not (column == "content_type" and im.content_type):
                items[column] = f.typed(column, kind).to_pandas()
        where = f.name
    else:
        attrs = [c for c in events.columns if c.startswith("item__")]
        items = (
            events.groupby("item_id", sort=True)[attrs].first().reset_index()
            if attrs
            else (pd.DataFrame({"item_id": sorted(events["item_id"].unique())}))
        )
        items = items.rename(columns={c: c.removeprefix("item__") for c in attrs})
        where = ", ".join(f.name for f in files)
        if "item__content_type" in events:
            _check_one_type_per_item(events, where, mapping)
    if im.content_type is not None:
        items["content_type"] = im.content_type
    elif "content_type" not in items:
        raise RawInputError(
            "no content type: map a column (items.columns.content_type) or give one for all "
            "(items.content_type / --content-type)",
            file=where,
            column=im.columns.get("content_type", "content_type"),
        )
    for column in ("title", "description"):
        items[column] = items[column].fillna("") if column in items else ""
    for column in ("language", "genre", "creator_id"):
        items[column] = items[column].fillna(UNKNOWN) if column in items else UNKNOWN
    published = items["item_id"].map(first_event)
    items["published_at"] = items["published_at"].fillna(published) if "published_at" in items else published
    items["published_at"] = items["published_at"].fillna(events["event_at"].min())
    return items[list(COLUMNS["items"])]


def _check_one_type_per_item(events: pd.DataFrame, where: str, mapping: Mapping) -> None:
    kinds = events.dropna(subset=["item__content_type"]).groupby("item_id")["item__content_type"].nunique()
    clash = kinds[kinds > 1]
    if len(clash):
        item = int(clash.index[0])
        seen = sorted(events.loc[events["item_id"] == item, "item__content_type"].dropna().unique())
        raise RawInputError(
            f"item {item} has more than one content type {seen}",
            file=where,
            column=mapping.items.columns.get("content_type", "content_type"),
            count=len(clash),
        )


def _users(mapping: Mapping, events: pd.DataFrame, base_dir: Path, max_examples: int) -> pd.DataFrame:
    first_event = events.groupby("user_id")["event_at"].min()
    if mapping.users is not None and mapping.users.path is not None:
        f = SourceFile(base_dir / mapping.users.path, mapping.users.columns, mapping, max_examples)
        users = pd.DataFrame({"user_id": f.typed("user_id", "id").to_pandas()})
        for column, kind in COLUMNS["users"].items():
            if column != "user_id" and f.has(column):
                users[column] = f.typed(column, kind).to_pandas()
    else:
        users = pd.DataFrame({"user_id": first_event.index.to_numpy()})
    for column in ("country", "age_bucket"):
        users[column] = users[column].fillna(UNKNOWN) if column in users else UNKNOWN
    signup = users["user_id"].map(first_event)
    users["signup_at"] = users["signup_at"].fillna(signup) if "signup_at" in users else signup
    users["signup_at"] = users["signup_at"].fillna(events["event_at"].min())
    return users[list(COLUMNS["users"])]


def _traits(
    events: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, *, has_play_time: bool
) -> SourceTraits:
    """What the batch really holds, from its values: placeholders do not count."""

    def known(frame: pd.DataFrame, columns: tuple[str, ...], empty: str) -> bool:
        return any(bool(((frame[c].notna()) & (frame[c].astype(str) != empty)).any()) for c in columns)

    return SourceTraits(
        has_item_text=known(items, tuple(sorted(FREE_TEXT)), ""),
        has_item_metadata=known(items, ("language", "genre", "creator_id"), UNKNOWN),
        has_user_profiles=known(users, ("country", "age_bucket"), UNKNOWN),
        has_weak_signals=bool(events["event_type"].isin(_WEAK).any()),
        has_play_time=has_play_time,
        has_event_times=True,
    )
