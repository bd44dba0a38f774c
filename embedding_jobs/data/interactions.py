"""Two-tower inputs: training examples from Feast, and user/item feature tensors.

Tabular features (profile, activity, popularity, item attributes) come from Feast's
point-in-time historical retrieval, in one call per entity frame (``fetch_features``); nothing
is joined by hand. Vectors (text, HGNN) are model inputs keyed by item and come from their
export files. A user's history is the bag of items consumed (and of items followed or previewed)
before a moment, summarised per content type as a mean and a count. ``Histories`` keeps every
user's items as time-ordered running sums, so the history as of any example's time is a binary
search and a row lookup: a training example sees only what its user met strictly before it, as
Feast serves features as of a time, and the export sees the whole training window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from gfm.config import Config
from gfm.errors import StageError

Retrieve = Callable[[Config, pd.DataFrame, "list[str] | None"], pd.DataFrame]

USER_PROFILE = ("country", "age_bucket")
ITEM_PROFILE = ("content_type", "genre", "language")
ITEM_STATS = ("n_streams_1d", "n_listeners_1d", "n_streams_total", "n_listeners_total", "age_days")
_DAY_NS = 86_400 * 1_000_000_000
_NOT_FEATURES = {"user_id", "item_id", "feature_at", "created_at"}


def read_mart(cfg: Config, name: str) -> pd.DataFrame:
    """Read a mart from ``cfg.marts_dir`` as a DataFrame.

    Raises:
        StageError: If the mart has not been built.

    """
    path = cfg.marts_dir / f"{name}.parquet"
    if not path.exists():
        raise StageError(f"mart {name!r} not found at {path}: run `gfm transform` first")
    return pd.read_parquet(path)


def activity_columns(cfg: Config) -> list[str]:
    """List the ``user_activity`` feature names (they depend on the content types) from the mart schema."""
    path = cfg.marts_dir / "user_features_daily.parquet"
    if not path.exists():
        raise StageError(f"mart 'user_features_daily' not found at {path}: run `gfm transform` first")
    return [c for c in pq.read_schema(path).names if c not in _NOT_FEATURES]


def feature_refs(cfg: Config, user: bool = True, item: bool = True) -> list[str]:
    """Feast feature references of the two-tower inputs (``view:feature``)."""
    refs: list[str] = []
    if user:
        refs += [f"user_profile:{c}" for c in USER_PROFILE]
        refs += [f"user_activity:{c}" for c in activity_columns(cfg)]
    if item:
        refs += [f"item_profile:{c}" for c in ITEM_PROFILE]
        refs += [f"item_stats:{c}" for c in ITEM_STATS]
    return refs


def fetch_features(cfg: Config, entity_df: pd.DataFrame, refs: list[str], retrieve: Retrieve) -> pd.DataFrame:
    """One point-in-time retrieval; returns the entity rows in their order with plain column names.

    Args:
        cfg: The config (passed on to ``retrieve``).
        entity_df: ``user_id`` and/or ``item_id`` plus ``event_timestamp`` (UTC).
        refs: Feature references, see ``feature_refs``.
        retrieve: ``feature_repo.store.get_training_frame`` (a test double only in fast unit tests).

    """
    rows = entity_df.reset_index(drop=True).assign(_row=lambda d: np.arange(len(d)))
    rows["event_timestamp"] = pd.to_datetime(rows["event_timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame = retrieve(cfg, rows, refs)
    frame = frame.rename(columns=lambda c: c.split("__", 1)[1] if "__" in c else c)
    if "_row" not in frame.columns or len(frame) != len(rows):
        raise StageError(f"feature retrieval returned {len(frame)} rows for {len(rows)} entity rows")
    return frame.sort_values("_row").reset_index(drop=True)


@dataclass
class Encoders:
    """Everything needed to turn feature frames into tensors; stored in the checkpoint."""

    types: list[str]
    countries: list[str]
    ages: list[str]
    genres: list[str]
    languages: list[str]
    user_dense: list[str]
    item_dense: list[str]
    user_stats: list[list[float]] = field(default_factory=list)  # [mean, std] per user column
    item_stats: list[list[float]] = field(default_factory=list)

    @classmethod
    def build(cls, dim_users: pd.DataFrame, dim_items: pd.DataFrame, user_dense: list[str]) -> Encoders:
        """Vocabularies from the dimension marts (index 0 is reserved for unknown values)."""

        def vocab(s: pd.Series) -> list[str]:
            return sorted(s.dropna().astype(str).unique().tolist())

        return cls(
            types=vocab(dim_items["content_type"]),
            countries=vocab(dim_users["country"]),
            ages=vocab(dim_users["age_bucket"]),
            genres=vocab(dim_items["genre"]),
            languages=vocab(dim_items["language"]),
            user_dense=user_dense,
            item_dense=list(ITEM_STATS),
        )

    @staticmethod
    def encode(values: pd.Series, vocab: list[str], unknown: int = 0, offset: int = 1) -> np.ndarray:
        """Vocabulary indices (``offset`` + position), ``unknown`` for missing or unseen values."""
        index = {v: i + offset for i, v in enumerate(vocab)}
        return np.array([index.get(v, unknown) for v in values.astype(object).where(values.notna(), None)])

    def user_cat(self, frame: pd.DataFrame) -> torch.Tensor:
        """``(N, 2)`` country and age indices."""
        cols = [self.encode(frame["country"], self.countries), self.encode(frame["age_bucket"], self.ages)]
        return torch.from_numpy(np.stack(cols, axis=1).astype(np.int64))

    def item_cat(self, frame: pd.DataFrame) -> torch.Tensor:
        """``(N, 3)`` content type, genre and language indices (type is 0-based, never unknown)."""
        cols = [
            self.encode(frame["content_type"], self.types, offset=0),
            self.encode(frame["genre"], self.genres),
            self.encode(frame["language"], self.languages),
        ]
        return torch.from_numpy(np.stack(cols, axis=1).astype(np.int64))

    @staticmethod
    def raw_dense(frame: pd.DataFrame, columns: list[str]) -> torch.Tensor:
        """``(N, F)`` signed log1p of numeric features; missing values (outside the TTL) are 0."""
        values = frame.reindex(columns=columns).apply(pd.to_numeric, errors="coerce").fillna(0.0)
        arr = values.to_numpy(dtype=np.float64)
        return torch.from_numpy(np.sign(arr) * np.log1p(np.abs(arr))).float()

    def fit(self, user_raw: torch.Tensor, item_raw: torch.Tensor) -> None:
        """Standardisation statistics from the training rows."""
        self.user_stats = _stats(user_raw)
        self.item_stats = _stats(item_raw)

    def standardise(self, raw: torch.Tensor, stats: list[list[float]]) -> torch.Tensor:
        """Apply stored ``[mean, std]`` per column."""
        s = torch.tensor(stats, dtype=torch.float32).reshape(-1, 2)
        return (raw - s[:, 0]) / s[:, 1]


def _positions(sorted_ids: np.ndarray, wanted: np.ndarray | pd.Series, what: str) -> np.ndarray:
    """Row positions of ``wanted`` in the sorted id array; unknown ids raise, naming a few."""
    ids = np.asarray(wanted, dtype=np.int64)
    pos = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
    if len(ids) and not (sorted_ids[pos] == ids).all():
        raise StageError(f"{what}: {ids[sorted_ids[pos] != ids][:5].tolist()}")
    return pos


def _stats(raw: torch.Tensor) -> list[list[float]]:
    mean = raw.mean(dim=0) if len(raw) else torch.zeros(raw.shape[1])
    std = raw.std(dim=0) if len(raw) > 1 else torch.ones(raw.shape[1])
    return [[float(m), float(max(s, 1e-3))] for m, s in zip(mean, std, strict=True)]


@dataclass
class Catalogue:
    """Every item of ``dim_items`` with its vectors.

    Attributes:
        item_ids: ``(I,)`` sorted item ids.
        type_idx: ``(I,)`` content-type index.
        text: ``(I, text_dim)`` text vectors (zeros for an item without one).
        hgnn: ``(I, hgnn_dim)`` HGNN vectors, ``(I, 0)`` without HGNN inputs.
        history: ``(I, D)`` the vectors that summarise a user's history (text ++ HGNN, or text).
        published_day: ``(I,)`` UTC day number (days since the epoch) of each item's publication,
            NaN where unknown; None when the catalogue was built without dates.

    """

    item_ids: np.ndarray
    type_idx: torch.Tensor
    text: torch.Tensor
    hgnn: torch.Tensor
    history: torch.Tensor
    published_day: np.ndarray | None = None

    def rows(self, item_ids: np.ndarray | pd.Series) -> np.ndarray:
        """Row positions of item ids (all must be in the catalogue)."""
        return _positions(self.item_ids, item_ids, "items not in dim_items")

    def with_exact_age(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with ``age_days`` recomputed from publication dates as of each row's time.

        An item's age is known at every moment from its publication date, while the
        ``item_stats`` row that carries it exists only on days near a consumption: outside them
        the retrieved age is missing, and reading missing as 0 made an old item nobody consumed
        look exactly like one published today. Same definition as the mart (whole UTC days from
        the publication date to the row's date, at least 0); rows of items without a date keep
        the retrieved value.
        """
        if self.published_day is None or "item_id" not in frame or "event_timestamp" not in frame:
            return frame
        published = self.published_day[self.rows(frame["item_id"])]
        as_of = (to_nanos(frame["event_timestamp"]) // _DAY_NS).astype(np.float64)
        age = np.maximum(as_of - published, 0.0)
        known = ~np.isnan(published)
        out = frame.copy()
        retrieved = pd.to_numeric(out.get("age_days", pd.Series(np.nan, index=out.index)), errors="coerce")
        out["age_days"] = np.where(known, age, retrieved.to_numpy(dtype=np.float64))
        return out


def build_catalogue(
    dim_items: pd.DataFrame,
    types: list[str],
    text: tuple[np.ndarray, np.ndarray],
    hgnn: tuple[np.ndarray, np.ndarray] | None,
    history_vectors: str = "text_hgnn",
) -> Catalogue:
    """Align text (and HGNN) vectors with ``dim_items``; an item without a vector gets zeros.

    ``history_vectors`` picks what summarises a user's history when HGNN vectors are given:
    ``text_hgnn`` (both, concatenated) or ``hgnn`` (the HGNN vectors alone, as in the seed).
    """
    item_ids = np.sort(dim_items["item_id"].to_numpy(dtype=np.int64))
    by_id = dim_items.set_index("item_id").loc[item_ids]
    type_idx = torch.from_numpy(Encoders.encode(by_id["content_type"], types, offset=0).astype(np.int64))

    def align(ids: np.ndarray, vecs: np.ndarray) -> torch.Tensor:
        out = np.zeros((len(item_ids), vecs.shape[1]), dtype=np.float32)
        pos = np.searchsorted(item_ids, ids)
        ok = (pos < len(item_ids)) & (item_ids[np.clip(pos, 0, len(item_ids) - 1)] == ids)
        out[pos[ok]] = vecs[ok]
        return torch.from_numpy(out)

    text_t = align(*text)
    hgnn_t = align(*hgnn) if hgnn is not None else torch.zeros(len(item_ids), 0)
    if hgnn is None:
        history = text_t
    elif history_vectors == "hgnn":
        history = hgnn_t
    else:
        history = torch.cat([text_t, hgnn_t], dim=1)
    published_day = None
    if "published_at" in by_id.columns:
        stamps = pd.to_datetime(by_id["published_at"], utc=True)
        days = (stamps - pd.Timestamp(0, tz="UTC")).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
        published_day = days
    return Catalogue(item_ids, type_idx, text_t, hgnn_t, history, published_day)


def consumption_times(facts: pd.DataFrame) -> pd.Series:
    """When the user first consumed each row's item (UTC): the time of its training example.

    ``first_consumed_at`` when the mart has it, else ``first_event_at``, the first event of any
    kind, which is earlier when a follow or preview came before the first stream.
    """
    column = "first_consumed_at" if "first_consumed_at" in facts.columns else "first_event_at"
    return pd.to_datetime(facts[column], utc=True)


def signal_times(facts: pd.DataFrame) -> pd.Series:
    """When the user first followed, previewed or meant to pay for each row's item (UTC).

    ``first_signal_at`` when the mart has it, else ``first_event_at``.
    """
    column = "first_signal_at" if "first_signal_at" in facts.columns else "first_event_at"
    return pd.to_datetime(facts[column], utc=True)


def to_nanos(stamps: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of timestamps; a missing one raises."""
    utc = pd.to_datetime(stamps, utc=True)
    if utc.isna().any():
        raise StageError(f"{int(utc.isna().sum())} missing timestamps in {stamps.name!r}")
    nanos: np.ndarray = utc.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    return nanos


NEVER = np.iinfo(np.int64).max  # a time after every event: the whole training window


@dataclass
class Timeline:
    """One kind of history (consumed or weak-signal items) as time-ordered runs of events.

    There is one run per (user, content type), ``run = user row * T + type``; within a run the
    events are in time order and ``cum`` holds their running sum, so the history of any user as
    of any time is one binary search and one row lookup.

    Attributes:
        start: ``(U * T + 1,)`` offset of each run into the events.
        keys: ``(E,)`` ascending ``run * (M + 1) + rank``, ``rank`` the position of the event's
            time among the ``M`` distinct event times.
        times: ``(M,)`` the distinct event times (ns since the epoch, UTC), ascending.
        cum: ``(E + 1, D)`` running sum of the items' history vectors within each run, after
            a zero row: ``cum[e + 1]`` is the sum up to and including event ``e``.

    """

    start: np.ndarray
    keys: np.ndarray
    times: np.ndarray
    cum: torch.Tensor

    def as_of(self, runs: np.ndarray, at: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, D)`` sum and ``(N,)`` count of each run's events strictly before ``at`` (ns)."""
        rank = np.searchsorted(self.times, at, side="left")  # distinct event times before `at`
        end = np.searchsorted(self.keys, runs * (len(self.times) + 1) + rank, side="left")
        count = end - self.start[runs]
        return self.cum[torch.from_numpy(np.where(count > 0, end, 0))], torch.from_numpy(count).float()


def _timeline(
    users: np.ndarray, events: pd.DataFrame, at: np.ndarray, cat: Catalogue, n_types: int
) -> Timeline:
    """Sort ``events`` (``user_id``, ``item_id``, at ``at`` ns) into runs and sum within each run."""
    user_rows = _positions(users, events["user_id"], "users not in dim_users")
    items = cat.rows(events["item_id"])
    runs = user_rows * n_types + cat.type_idx.numpy()[items]
    order = np.lexsort((at, runs))
    runs, items, at = runs[order], items[order], at[order]
    times, rank = np.unique(at, return_inverse=True)
    start = np.concatenate([[0], np.cumsum(np.bincount(runs, minlength=len(users) * n_types))])
    keys = runs * (len(times) + 1) + rank.astype(np.int64)
    return Timeline(start, keys, times, _run_cumsum(cat.history, items, start[runs]))


def _run_cumsum(vectors: torch.Tensor, items: np.ndarray, first: np.ndarray) -> torch.Tensor:
    """Running sums of ``vectors[items]`` that restart at each event's run start ``first``.

    Returns ``(E + 1, D)``: a zero row, then the sum of each event's run up to the event. Step
    ``p`` adds the ``p``-th event of every run at once to the sum before it, so there are as many
    steps as the longest run has events, each over every run that long: O(E x D) work, exact
    running sums (no long sum is differenced), no memory beyond the output and one step.
    """
    out = torch.zeros(len(items) + 1, vectors.shape[1])
    pos = np.arange(len(items)) - first  # place of each event in its run
    order = torch.from_numpy(np.argsort(pos, kind="stable"))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(pos))]) if len(pos) else np.zeros(1, np.int64)
    rows = torch.from_numpy(items)
    for p in range(len(bounds) - 1):
        e = order[bounds[p] : bounds[p + 1]]  # the p-th event of every run that long
        out[e + 1] = out[e] + vectors[rows[e]]  # at p = 0, out[e] is read before any write: zero
    return out


@dataclass
class Histories:
    """Every user's consumed and weak-signal items over time, per content type.

    Attributes:
        user_ids: ``(U,)`` sorted user ids.
        n_types: Number of content types.
        consumed: Consumed items, each at its first consumption.
        weak: Followed, previewed or intended-to-pay items (consumed ones included: a follow or
            preview usually precedes the stream), each at its first such signal.

    """

    user_ids: np.ndarray
    n_types: int
    consumed: Timeline
    weak: Timeline

    def rows(self, user_ids: np.ndarray | pd.Series) -> np.ndarray:
        """Row positions of user ids (all must be known)."""
        return _positions(self.user_ids, user_ids, "users not in dim_users")

    def as_of(
        self, users: torch.Tensor, at: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Histories of user rows ``users`` from the items met strictly before ``at`` (ns, UTC).

        Returns:
            ``hist_sum`` ``(N, T, D)`` and ``hist_count`` ``(N, T)`` of consumed items, then
            ``weak_sum`` and ``weak_count`` of weak-signal items. ``at = NEVER`` gives the whole
            training window.

        """
        n, t = len(users), self.n_types
        runs = (users.numpy().astype(np.int64)[:, None] * t + np.arange(t)).ravel()
        stamps = np.repeat(at.numpy().astype(np.int64), t)
        hist_sum, hist_count = self.consumed.as_of(runs, stamps)
        weak_sum, weak_count = self.weak.as_of(runs, stamps)
        return hist_sum.view(n, t, -1), hist_count.view(n, t), weak_sum.view(n, t, -1), weak_count.view(n, t)


def build_histories(user_ids: np.ndarray, facts: pd.DataFrame, cat: Catalogue, n_types: int) -> Histories:
    """Index each user's training-window items by time, per content type (``fct_interactions``)."""
    users = np.sort(np.asarray(user_ids, dtype=np.int64))
    consumed = facts["is_consumed"].astype(bool).to_numpy()
    weak_cols = [c for c in ("n_follows", "n_previews", "n_intent_to_pay") if c in facts.columns]
    weak = facts[weak_cols].fillna(0).sum(axis=1).to_numpy() > 0
    return Histories(
        users,
        n_types,
        _timeline(users, facts.loc[consumed], to_nanos(consumption_times(facts.loc[consumed])), cat, n_types),
        _timeline(users, facts.loc[weak], to_nanos(signal_times(facts.loc[weak])), cat, n_types),
    )
