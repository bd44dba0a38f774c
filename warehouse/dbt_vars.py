"""The dbt vars of a build: split boundaries, content types and graph settings.

The split comes from :class:`gfm.config.SplitConfig`; a field the user did not set falls back to
the raw manifest's ``suggested_split``, and ``end_at`` falls back to the manifest's
``window_end``. A batch with ``fixed_split`` (e.g. LightGCN's published train/test files mapped
onto time) always takes the manifest's split, since any other split would not reproduce it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gfm.config import GraphConfig, SplitConfig
from gfm.errors import StageError

if TYPE_CHECKING:
    from ingest.manifest import RawManifest

# Content types become SQL literals and column names (n_streams_90d_<slug>): keep them plain.
_CONTENT_TYPE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$")


@dataclass(frozen=True)
class SplitBoundaries:
    """The windows of one build: train = [train_start, train_end), eval = [train_end, eval_end).

    Attributes:
        window_start: Start of the raw window (manifest).
        window_end: End of the raw window (manifest); feature snapshots run up to it.
        train_start: Start of the training window (never before ``window_start``).
        train_end: End of the training window, which is the start of the evaluation window.
        eval_end: End of the evaluation window.
        source: Where the split came from: ``config``, ``manifest`` or ``fixed_split``.

    """

    window_start: datetime
    window_end: datetime
    train_start: datetime
    train_end: datetime
    eval_end: datetime
    source: str

    def to_dict(self) -> dict[str, str]:
        """ISO-8601 strings (UTC) by name."""
        return {
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "eval_end": self.eval_end.isoformat(),
            "source": self.source,
        }


def compute_split(split: SplitConfig, manifest: RawManifest) -> SplitBoundaries:
    """Resolve the train/eval windows of a batch.

    Args:
        split: The split settings; fields not explicitly set fall back to the manifest.
        manifest: The raw batch's manifest (window and suggested split).

    Returns:
        The boundaries, all tz-aware UTC.

    Raises:
        StageError: If the windows are empty or fall outside the raw window.

    """
    window_start = _utc(manifest.window_start)
    window_end = _utc(manifest.window_end)
    suggested = manifest.suggested_split
    given = split.model_fields_set
    if manifest.fixed_split:
        train_days, eval_days, source = suggested.train_days, suggested.eval_days, "fixed_split"
    else:
        train_days = split.train_days if "train_days" in given else suggested.train_days
        eval_days = split.eval_days if "eval_days" in given else suggested.eval_days
        source = "config" if given & {"train_days", "eval_days", "end_at"} else "manifest"
    eval_end = _utc(split.end_at) if split.end_at is not None else window_end
    train_end = eval_end - timedelta(days=eval_days)
    train_start = (
        window_start if train_days is None else max(window_start, train_end - timedelta(days=train_days))
    )
    if eval_days <= 0 or not window_start < train_end < eval_end <= window_end:
        raise StageError(
            f"empty or out-of-window split: train [{train_start}, {train_end}), eval [{train_end}, {eval_end}) "
            f"for the raw window [{window_start}, {window_end}) (train_days={train_days}, eval_days={eval_days})"
        )
    return SplitBoundaries(window_start, window_end, train_start, train_end, eval_end, source)


def resolve_content_types(*sources: Iterable[object]) -> list[str]:
    """Return the sorted union of content types (manifest and catalogue), checked to be plain names.

    Raises:
        StageError: If a content type has characters outside ``[A-Za-z0-9 _-]`` or two types
            map to the same column name.

    """
    types = sorted({str(t) for source in sources for t in source if t is not None and str(t) != "<NA>"})
    slugs: dict[str, str] = {}
    for content_type in types:
        if not _CONTENT_TYPE_RE.match(content_type):
            raise StageError(
                f"content type {content_type!r} is not a plain name ([A-Za-z0-9 _-], <= 64 chars)"
            )
        slug = content_type_slug(content_type)
        if slug in slugs:
            raise StageError(
                f"content types {slugs[slug]!r} and {content_type!r} share the column name {slug!r}"
            )
        slugs[slug] = content_type
    return types


def content_type_slug(content_type: str) -> str:
    """Return the column-name form of a content type (mirrors the dbt macro ``content_type_slug``)."""
    return re.sub(r"[^a-z0-9]+", "_", content_type.lower()).strip("_")


def build_vars(
    *, landing_dir: Path, split: SplitBoundaries, content_types: list[str], graph: GraphConfig
) -> dict[str, Any]:
    """Return the ``--vars`` of ``dbt build`` (docs/contracts.md, section 2)."""
    return {
        "landing_dir": str(landing_dir.resolve()),
        **{k: v for k, v in split.to_dict().items() if k != "source"},
        "content_types": content_types,
        "min_ms_played": graph.min_ms_played,
        "min_support": graph.min_support,
        "degree_cap": graph.degree_cap,
        "degree_cap_scope": graph.degree_cap_scope,
        "degree_cap_rank": graph.degree_cap_rank,
        "max_items_per_user": graph.max_items_per_user,
    }


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
