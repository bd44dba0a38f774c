"""Two-tower inputs: training examples from Feast, and user/item feature tensors.

Tabular features (profile, activity, popularity, item attributes) come from Feast's
point-in-time historical retrieval, in one call per entity frame (``fetch_features``); nothing
is joined by hand. Vectors (text, HGNN) are model inputs keyed by item and come from their
export files (``Catalogue``). User histories are in ``embedding_jobs.data.histories``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

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
            encode_types(frame["content_type"], self.types),
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


def encode_types(values: pd.Series, types: list[str]) -> np.ndarray:
    """0-based content-type indices; a type outside ``types`` is an error, never a silent index 0.

    A checkpoint knows the types it was trained on; exporting it over marts with a new type would
    otherwise encode that type as the first known one.

    Raises:
        StageError: If a value is not one of ``types``, naming it and the known types.

    """
    unknown = sorted(set(values.dropna().astype(str)) - set(types))
    if unknown or values.isna().any():
        what = ", ".join(repr(t) for t in unknown) or "a missing content type"
        raise StageError(
            f"content type {what} is not one this model was trained on ({', '.join(types)}): "
            "train a new version on the current marts (`gfm train two-tower`) instead of re-exporting this one"
        )
    return Encoders.encode(values, types, offset=0)


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
        hgnn_isolated: ``(I, hgnn_dim)`` the HGNN vector of each item computed without any edge
            (what a fresh item gets); None when the HGNN export has none.
        graph_entry_ns: ``(I,)`` when each item could first have had an edge
            (``embedding_jobs.data.graph_entry``); None: every example sees ``hgnn``.
        id_row: ``(I,)`` each item's row of the two-tower's ID table (0: none;
            ``two_tower.item_ids``); None without the table.
        id_since_ns: ``(I,)`` when each item was first consumed: a row strictly after it sees the
            item's ID vector, an earlier one none (as a fresh item is served); None: always.

    """

    item_ids: np.ndarray
    type_idx: torch.Tensor
    text: torch.Tensor
    hgnn: torch.Tensor
    history: torch.Tensor
    published_day: np.ndarray | None = None
    hgnn_isolated: torch.Tensor | None = None
    graph_entry_ns: np.ndarray | None = None
    id_row: torch.Tensor | None = None
    id_since_ns: torch.Tensor | None = None

    def with_hgnn(self, ids: np.ndarray, vectors: np.ndarray, history_vectors: str) -> Catalogue:
        """The same catalogue with other HGNN vectors (``ids`` and ``vectors``; missing: zeros).

        Its history vectors follow (``history_vectors`` as in ``build_catalogue``); everything
        else, the ID rows and the isolated vectors included, is shared.
        """
        hgnn_t = _align(self.item_ids, ids, vectors)
        return replace(self, hgnn=hgnn_t, history=history_of(self.text, hgnn_t, history_vectors))

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
    hgnn_isolated: tuple[np.ndarray, np.ndarray] | None = None,
) -> Catalogue:
    """Align text (and HGNN) vectors with ``dim_items``; an item without a vector gets zeros.

    ``history_vectors`` picks what summarises a user's history when HGNN vectors are given:
    ``text_hgnn`` (both, concatenated) or ``hgnn`` (the HGNN vectors alone, as in the seed).
    ``hgnn_isolated`` are the HGNN's vectors computed without edges, for examples dated before
    an item could have had one (``graph_entry_ns`` is set by the caller).
    """
    item_ids = np.sort(dim_items["item_id"].to_numpy(dtype=np.int64))
    by_id = dim_items.set_index("item_id").loc[item_ids]
    type_idx = torch.from_numpy(encode_types(by_id["content_type"], types).astype(np.int64))

    text_t = _align(item_ids, *text)
    hgnn_t = _align(item_ids, *hgnn) if hgnn is not None else torch.zeros(len(item_ids), 0)
    history = text_t if hgnn is None else history_of(text_t, hgnn_t, history_vectors)
    published_day = None
    if "published_at" in by_id.columns:
        stamps = pd.to_datetime(by_id["published_at"], utc=True)
        days = (stamps - pd.Timestamp(0, tz="UTC")).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
        published_day = days
    isolated_t = _align(item_ids, *hgnn_isolated) if hgnn is not None and hgnn_isolated is not None else None
    return Catalogue(item_ids, type_idx, text_t, hgnn_t, history, published_day, isolated_t)


def _align(item_ids: np.ndarray, ids: np.ndarray, vecs: np.ndarray) -> torch.Tensor:
    """``vecs`` (one per ``ids``) placed on the rows of the sorted ``item_ids``; others zeros."""
    out = np.zeros((len(item_ids), vecs.shape[1]), dtype=np.float32)
    pos = np.searchsorted(item_ids, ids)
    ok = (pos < len(item_ids)) & (item_ids[np.clip(pos, 0, len(item_ids) - 1)] == ids)
    out[pos[ok]] = vecs[ok]
    return torch.from_numpy(out)


def history_of(text: torch.Tensor, hgnn: torch.Tensor, history_vectors: str) -> torch.Tensor:
    """The vectors that summarise a user's history: text ++ HGNN (``text_hgnn``) or HGNN alone."""
    return hgnn if history_vectors == "hgnn" else torch.cat([text, hgnn], dim=1)


def to_nanos(stamps: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of timestamps; a missing one raises."""
    utc = pd.to_datetime(stamps, utc=True)
    if utc.isna().any():
        raise StageError(f"{int(utc.isna().sum())} missing timestamps in {stamps.name!r}")
    nanos: np.ndarray = utc.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    return nanos
