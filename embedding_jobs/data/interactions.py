"""Two-tower inputs: training examples from Feast, and user/item feature tensors.

Tabular features (profile, activity, popularity, item attributes) come from Feast's
point-in-time historical retrieval, in one call per entity frame (``fetch_features``); nothing
is joined by hand. Vectors (text, HGNN) are model inputs keyed by item and come from their
export files. A user's history is the bag of items consumed in the training window, summarised
per content type as a sum and a count, so a training example can leave its own item out.
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

    """

    item_ids: np.ndarray
    type_idx: torch.Tensor
    text: torch.Tensor
    hgnn: torch.Tensor
    history: torch.Tensor

    def rows(self, item_ids: np.ndarray | pd.Series) -> np.ndarray:
        """Row positions of item ids (all must be in the catalogue)."""
        return _positions(self.item_ids, item_ids, "items not in dim_items")


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
    return Catalogue(item_ids, type_idx, text_t, hgnn_t, history)


@dataclass
class Histories:
    """Per-user, per-type sums and counts of history vectors (consumed and weak-signal items).

    Attributes:
        user_ids: ``(U,)`` sorted user ids.
        hist_sum, weak_sum: ``(U, T, D)``.
        hist_count, weak_count: ``(U, T)``.

    """

    user_ids: np.ndarray
    hist_sum: torch.Tensor
    hist_count: torch.Tensor
    weak_sum: torch.Tensor
    weak_count: torch.Tensor

    def rows(self, user_ids: np.ndarray | pd.Series) -> np.ndarray:
        """Row positions of user ids (all must be known)."""
        return _positions(self.user_ids, user_ids, "users not in dim_users")


def build_histories(
    user_ids: np.ndarray, fct_interactions: pd.DataFrame, cat: Catalogue, n_types: int
) -> Histories:
    """Sum the history vectors of each user's training-window items per content type."""
    users = np.sort(np.asarray(user_ids, dtype=np.int64))
    dim = cat.history.shape[1]
    out = []
    consumed = fct_interactions["is_consumed"].astype(bool).to_numpy()
    weak_cols = [c for c in ("n_follows", "n_previews", "n_intent_to_pay") if c in fct_interactions.columns]
    # weak-signal items, consumed ones included: a follow or preview usually precedes the stream
    weak = fct_interactions[weak_cols].fillna(0).sum(axis=1).to_numpy() > 0
    for mask in (consumed, weak):
        part = fct_interactions.loc[mask]
        u = torch.from_numpy(np.searchsorted(users, part["user_id"].to_numpy(dtype=np.int64)))
        i = torch.from_numpy(cat.rows(part["item_id"]))
        slot = u * n_types + cat.type_idx[i]
        sums = torch.zeros(len(users) * n_types, dim).index_add_(0, slot, cat.history[i])
        counts = torch.zeros(len(users) * n_types).index_add_(0, slot, torch.ones(len(slot)))
        out += [sums.view(len(users), n_types, dim), counts.view(len(users), n_types)]
    return Histories(users, out[0], out[1], out[2], out[3])
