"""``gfm import movielens``: MovieLens (ratings.csv, tags.csv, movies.csv) in the raw log contract.

Mapping (documented in the README):

- **Events.** Every rating is an event at its timestamp. A rating >= 3.5 is a ``stream`` whose
  ``ms_played`` is the rating's share of a nominal two-hour film (3.5 -> 84 min, 5.0 -> 120 min);
  a lower rating is a ``preview`` (ms_played 0): the user looked but did not like it. Every tag
  is a ``follow`` (ms_played 0). Event ids: ``r<user>-<movie>`` and ``t<user>-<movie>-<row>``.
- **Content types** from genres: ``animation`` if the genres include Animation, else
  ``documentary`` if they include Documentary, else ``feature_film``.
- **Items.** Every movie of movies.csv. Title as given (with the year); genre = the first listed
  genre; description = "Genres: ... Tags: ..." with the movie's distinct tags (lower-cased, most
  used first) that were applied *before* the suggested evaluation window, so item text does not
  leak evaluation-time behaviour. published_at = 1 January of the title's year (or the first
  event, if earlier or if there is no year). language and creator_id are ``unknown``.
- **Users.** Every user with an event; country and age_bucket ``unknown``; signup_at = first event.
- **Files.** Interactions are one Parquet file (22 years of daily partitions would be thousands of
  tiny files).
- **Window and split.** The window runs from the day of the first event to the day after the
  last. Activity is sparse near the end, so the evaluation window is the shortest "last N days"
  (N >= 14) in which at least ``MIN_EVAL_USERS`` users stream something; training uses all
  history before it (``train_days: null``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ingest._source import UNKNOWN, require_files, write_batch
from ingest.manifest import RawManifest, SourceTraits, SuggestedSplit

STREAM_MIN_RATING = 3.5
FILM_MS = 2 * 3600 * 1000  # a nominal two-hour film
MIN_EVAL_USERS = 100
MAX_TAGS = 20
_DAY = pd.Timedelta(days=1)
_YEAR = re.compile(r"\((\d{4})\)\s*$")
# titles, genres and tags; no user profiles; play time is derived from the rating, not measured
TRAITS = SourceTraits(
    has_item_text=True,
    has_item_metadata=True,
    has_user_profiles=False,
    has_weak_signals=True,
    has_play_time=False,
    has_event_times=True,
)


def import_movielens(src: Path, raw_dir: Path) -> dict[str, int]:
    """Map a MovieLens folder into a raw batch in ``raw_dir`` (replaced atomically).

    Args:
        src: The folder holding ratings.csv, tags.csv and movies.csv.
        raw_dir: The raw folder to (re)create.

    Returns:
        Row counts by table.

    Raises:
        RawInputError: If the folder or one of the files is missing.

    """
    require_files(src, ["ratings.csv", "tags.csv", "movies.csv"], "MovieLens")
    ratings = pd.read_csv(src / "ratings.csv", dtype={"userId": "int64", "movieId": "int64"})
    tags = pd.read_csv(src / "tags.csv", dtype={"userId": "int64", "movieId": "int64", "tag": "string"})
    movies = pd.read_csv(
        src / "movies.csv", dtype={"movieId": "int64", "title": "string", "genres": "string"}
    )

    events = _events(ratings, tags)
    start = events["event_at"].min().floor("D")
    end = events["event_at"].max().floor("D") + _DAY
    eval_days = choose_eval_days(events, end)
    items = _items(movies, tags, events, start, end - eval_days * _DAY)
    users = (
        events.groupby("user_id", as_index=False)["event_at"].min().rename(columns={"event_at": "signup_at"})
    )
    users = users.assign(country=UNKNOWN, age_bucket=UNKNOWN)
    manifest = RawManifest(
        source="movielens",
        created_at=datetime.now(UTC),
        seed=None,
        window_start=start.to_pydatetime(),
        window_end=end.to_pydatetime(),
        content_types=sorted(items["content_type"].unique()),
        fixed_split=False,
        suggested_split=SuggestedSplit(train_days=None, eval_days=eval_days),
        traits=TRAITS,
    )
    tables = {"interactions": events.sort_values("event_at", kind="stable"), "items": items, "users": users}
    return write_batch(raw_dir, tables, manifest, partition_by_day=False)


def _events(ratings: pd.DataFrame, tags: pd.DataFrame) -> pd.DataFrame:
    is_stream = ratings["rating"] >= STREAM_MIN_RATING
    rated = pd.DataFrame(
        {
            "event_id": "r" + ratings["userId"].astype(str) + "-" + ratings["movieId"].astype(str),
            "user_id": ratings["userId"],
            "item_id": ratings["movieId"],
            "event_at": pd.to_datetime(ratings["timestamp"], unit="s", utc=True),
            "event_type": np.where(is_stream, "stream", "preview"),
            "ms_played": np.where(is_stream, np.round(ratings["rating"] / 5.0 * FILM_MS), 0).astype("int64"),
        }
    )
    tagged = pd.DataFrame(
        {
            "event_id": "t"
            + tags["userId"].astype(str)
            + "-"
            + tags["movieId"].astype(str)
            + "-"
            + pd.Series(np.arange(len(tags)), index=tags.index).astype(str),
            "user_id": tags["userId"],
            "item_id": tags["movieId"],
            "event_at": pd.to_datetime(tags["timestamp"], unit="s", utc=True),
            "event_type": "follow",
            "ms_played": np.zeros(len(tags), dtype="int64"),
        }
    )
    return pd.concat([rated, tagged], ignore_index=True)


def choose_eval_days(events: pd.DataFrame, end: pd.Timestamp) -> int:
    """Return the smallest N >= 14 such that at least MIN_EVAL_USERS users stream in the last N days.

    Falls back to the N with the most such users when no N reaches the target.
    """
    streams = events[events["event_type"] == "stream"]
    last = streams.groupby("user_id")["event_at"].max()
    days_before_end = np.sort(((end - last) / _DAY).to_numpy())  # fraction of days from the end
    candidates = np.arange(14, int(np.ceil(days_before_end.max())) + 2)
    counts = np.searchsorted(days_before_end, candidates, side="right")
    reached = np.flatnonzero(counts >= MIN_EVAL_USERS)
    return int(candidates[reached[0]] if len(reached) else candidates[np.argmax(counts)])


def _items(
    movies: pd.DataFrame,
    tags: pd.DataFrame,
    events: pd.DataFrame,
    start: pd.Timestamp,
    eval_start: pd.Timestamp,
) -> pd.DataFrame:
    genres = movies["genres"].fillna("").str.split("|")
    content_type = np.where(
        genres.map(lambda g: "Animation" in g),
        "animation",
        np.where(genres.map(lambda g: "Documentary" in g), "documentary", "feature_film"),
    )
    listed = genres.map(lambda g: [x for x in g if x and x != "(no genres listed)"])
    tag_text = _tag_text(tags, eval_start).reindex(movies["movieId"]).fillna("").to_numpy()
    description = [
        f"Genres: {', '.join(g) if g else 'unknown'}." + (f" Tags: {t}." if t else "")
        for g, t in zip(listed, tag_text, strict=True)
    ]
    year = pd.to_numeric(movies["title"].str.extract(_YEAR, expand=False), errors="coerce")
    released = pd.to_datetime(year.astype("Int64").astype(str) + "-01-01", utc=True, errors="coerce")
    first_event = events.groupby("item_id")["event_at"].min().reindex(movies["movieId"])
    earliest = np.fmin(released.dt.tz_localize(None).to_numpy(), first_event.dt.tz_localize(None).to_numpy())
    published = pd.Series(pd.to_datetime(earliest, utc=True)).fillna(start)
    return pd.DataFrame(
        {
            "item_id": movies["movieId"].to_numpy(),
            "content_type": content_type,
            "title": movies["title"].fillna("").to_numpy(),
            "description": description,
            "language": UNKNOWN,
            "genre": [g[0] if g else UNKNOWN for g in listed],
            "creator_id": UNKNOWN,
            "published_at": published.to_numpy(),
        }
    )


def _tag_text(tags: pd.DataFrame, before: pd.Timestamp) -> pd.Series:
    """Per movie: its distinct tags applied before ``before``, most used first, comma-joined."""
    early = tags[pd.to_datetime(tags["timestamp"], unit="s", utc=True) < before]
    clean = early.assign(tag=early["tag"].str.strip().str.lower()).dropna(subset=["tag"])
    clean = clean[clean["tag"] != ""]
    counted = clean.groupby(["movieId", "tag"]).size().reset_index(name="n")
    counted = counted.sort_values(["movieId", "n", "tag"], ascending=[True, False, True])
    return counted.groupby("movieId").head(MAX_TAGS).groupby("movieId")["tag"].agg(", ".join)
