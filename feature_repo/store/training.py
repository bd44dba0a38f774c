"""Point-in-time training sets through Feast ``get_historical_features``.

Features are never joined by hand: each entity row (user and/or item, event time) receives the
latest feature row whose timestamp is at or before the event time and within the view's TTL.
On the DuckDB offline store an entity row without such a feature row is kept with nulls (the
``file`` store would drop it), so the output has exactly one row per input row, in input order.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from feature_repo.store.definitions import CORE_VIEW_NAMES, ENTITY_KEYS
from feature_repo.store.repo import get_store
from gfm.config import Config
from gfm.errors import InvalidInputError, NotFoundError

TIMESTAMP = "event_timestamp"
_ORDER = "_gfm_order"


def validate_entity_frame(entity_df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Check an entity frame and return a copy with UTC timestamps.

    Args:
        entity_df: Rows of ``keys`` plus ``event_timestamp``; other columns pass through.
        keys: The join keys the requested features need (``user_id``, ``item_id``).

    Returns:
        The checked frame (timestamps converted to UTC).

    Raises:
        InvalidInputError: Not a DataFrame, empty, missing columns, null or non-integer ids,
            naive or non-datetime timestamps, or duplicate (keys, event_timestamp) rows.

    """
    if not isinstance(entity_df, pd.DataFrame):
        raise InvalidInputError(
            "must be a pandas DataFrame", field="entity_df", value=type(entity_df).__name__
        )
    missing = [c for c in [*keys, TIMESTAMP] if c not in entity_df.columns]
    if missing:
        raise InvalidInputError(
            f"missing columns {missing}; has {list(entity_df.columns)}", field="entity_df"
        )
    if entity_df.empty:
        raise InvalidInputError("has no rows", field="entity_df")
    frame = entity_df.copy()
    for key in keys:
        column = frame[key]
        if column.isna().any():
            raise InvalidInputError("null ids", field=key, value=int(column.isna().sum()))
        if not pd.api.types.is_integer_dtype(column):
            raise InvalidInputError("ids must be integers (int64)", field=key, value=str(column.dtype))
        frame[key] = column.astype("int64")
    ts = frame[TIMESTAMP]
    if not pd.api.types.is_datetime64_any_dtype(ts):
        raise InvalidInputError("must be a datetime column", field=TIMESTAMP, value=str(ts.dtype))
    if getattr(ts.dt, "tz", None) is None:
        raise InvalidInputError(
            "timestamps are naive; localize them to UTC (tz-aware) first",
            field=TIMESTAMP,
            value=str(ts.dtype),
        )
    if ts.isna().any():
        raise InvalidInputError("null timestamps", field=TIMESTAMP, value=int(ts.isna().sum()))
    frame[TIMESTAMP] = ts.dt.tz_convert("UTC")
    dupes = frame.duplicated([*keys, TIMESTAMP], keep=False)
    if dupes.any():
        sample = frame.loc[dupes, [*keys, TIMESTAMP]].head(3).to_dict("records")
        raise InvalidInputError(
            f"{int(dupes.sum())} rows share their (keys, event_timestamp)", field="entity_df", value=sample
        )
    return frame


def default_features(cfg: Config) -> list[str]:
    """Every feature of the four mart-backed views, as ``view:feature`` references."""
    store = get_store(cfg)
    refs = []
    for name in CORE_VIEW_NAMES:
        view = store.get_feature_view(name)
        refs += [f"{name}:{f.name}" for f in view.features]
    return refs


def _keys_for(store: Any, refs: list[str]) -> list[str]:
    keys: list[str] = []
    for view_name in dict.fromkeys(r.split(":", 1)[0] for r in refs):
        try:
            view = store.get_feature_view(view_name)
        except Exception as exc:  # feast raises FeatureViewNotFoundException
            raise NotFoundError(f"unknown feature view {view_name!r}") from exc
        for entity in view.entities:
            key = ENTITY_KEYS.get(entity, entity)
            if key not in keys:
                keys.append(key)
    return keys


def get_training_frame(
    cfg: Config, entity_df: pd.DataFrame, features: list[str] | str | None = None
) -> pd.DataFrame:
    """The point-in-time feature frame for entity rows (the two-tower training set).

    Args:
        cfg: The config.
        entity_df: ``user_id`` and/or ``item_id`` (int64) and ``event_timestamp`` (tz-aware);
            extra columns are passed through.
        features: ``view:feature`` references, a feature service name (e.g.
            ``two_tower_training_<version>``), or None for every mart-backed feature.

    Returns:
        One row per entity row, in input order: the input columns, then one column per feature
        named ``<view>__<feature>`` (full names, so two views never collide).

    Raises:
        InvalidInputError: The entity frame is malformed (see ``validate_entity_frame``).
        NotFoundError: An unknown feature view or feature service.

    """
    store = get_store(cfg)
    target: Any
    if isinstance(features, str):
        try:
            target = store.get_feature_service(features)
        except Exception as exc:  # feast raises FeatureServiceNotFoundException
            raise NotFoundError(f"unknown feature service {features!r}") from exc
        refs = [f"{p.name_to_use()}:{f.name}" for p in target.feature_view_projections for f in p.features]
    else:
        refs = list(features) if features is not None else default_features(cfg)
        target = refs
    frame = validate_entity_frame(entity_df, _keys_for(store, refs))
    frame[_ORDER] = range(len(frame))
    out = store.get_historical_features(entity_df=frame, features=target, full_feature_names=True).to_df()
    out = out.sort_values(_ORDER).drop(columns=[_ORDER]).reset_index(drop=True)
    # the input columns exactly as given: the Spark offline store returns event_timestamp tz-naive
    for column in frame.columns.drop(_ORDER):
        out[column] = frame[column].reset_index(drop=True)
    return out
