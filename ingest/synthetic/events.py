"""Simulate the interaction log of one chunk of users (vectorised over all their engagements).

An *engagement* is one user discovering one item: an optional weak signal (follow, preview,
intent to pay), then zero or more streams spread over the following days. Items are chosen by the
user's taste (content type, then taste group: topic or community) and, within a group, in
proportion to item quality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.synthetic.catalog import DAY_S, Catalog
from ingest.synthetic.users import UserChunk

EXPLORE_SHARE = 0.10  # engagements picked from the type-wide charts instead of the user's groups
SAMPLED_SHARE = 0.12  # engagements that are one short stream, skipped (< 30 s)
SKIP_SHARE = 0.07  # other streams skipped early
ABANDON_SHARE = 0.30  # weak-signal engagements that never lead to a stream
MEAN_WEAK_LEAD_DAYS = 1.5  # days from the weak signal to the first stream
# Per content type (podcast, audiobook, audio_course). Audio courses are lessons: more sessions
# than a book, a few days apart, shorter; people preview or follow a course before starting it,
# and some are paid, like audiobooks.
WEAK_SHARE = (0.30, 0.45, 0.40)  # engagements that start with a weak signal
WEAK_KIND = (  # P(event type | weak): stream (never), follow, preview, intent to pay
    (0.0, 0.65, 0.35, 0.0),
    (0.0, 0.15, 0.60, 0.25),
    (0.0, 0.35, 0.50, 0.15),
)
MEAN_STREAMS = (5.0, 2.5, 4.0)  # streams per engagement (episodes / listening sessions / lessons)
MEAN_GAP_DAYS = (4.0, 1.5, 2.5)  # days between streams of one engagement
SESSION_MINUTES = ((15.0, 75.0), (10.0, 60.0), (10.0, 40.0))  # length of one stream


@dataclass(frozen=True)
class ChunkEvents:
    """Events of one chunk, unsorted: positions into the catalogue, seconds since window start."""

    user_id: np.ndarray
    item_pos: np.ndarray
    second: np.ndarray
    event_type: np.ndarray  # int8 index into EVENT_TYPES
    ms_played: np.ndarray


class ItemSampler:
    """Draws items by (content type, taste group) in proportion to quality, with one searchsorted call.

    Each (type, group) cell, plus one type-wide "charts" cell per type, owns the interval
    [g, g + 1) of a flat cumulative-weight array, so drawing ``g + u`` picks an item of cell g.
    """

    def __init__(self, cat: Catalog) -> None:
        k = cat.n_groups
        self.n_groups = k
        self.n_types = cat.n_types
        ct = cat.ctype.astype(np.int64)
        group = np.concatenate([ct * (k + 1) + cat.group, ct * (k + 1) + k])
        items = np.concatenate([np.arange(cat.size), np.arange(cat.size)])
        order = np.lexsort((items, group))
        self.items, group = items[order], group[order]
        weight = cat.quality[self.items]
        n_cells = self.n_types * (k + 1)
        starts = np.searchsorted(group, np.arange(n_cells + 1))
        cum = np.cumsum(weight)
        before = np.concatenate([[0.0], cum])[starts[:-1]]
        totals = np.concatenate([[0.0], cum])[starts[1:]] - before
        self.flat = group + (cum - before[group]) / np.where(totals > 0, totals, 1.0)[group]
        self.starts, self.ends = starts[:-1], starts[1:]
        self.available = (totals > 0).reshape(self.n_types, k + 1)[:, :k]  # has type t items of group k?
        self.type_available = (totals > 0).reshape(self.n_types, k + 1)[:, k]

    def draw(self, ctype: np.ndarray, group: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Item positions for engagements of the given type and group (``group == n_groups``: charts)."""
        charts = ctype.astype(np.int64) * (self.n_groups + 1) + self.n_groups
        g = charts - self.n_groups + group
        g = np.where(self.ends[g] > self.starts[g], g, charts)  # an empty group falls back to the charts
        pos = np.searchsorted(self.flat, g + u, side="left")
        return np.asarray(self.items[np.clip(pos, self.starts[g], self.ends[g] - 1)])


def _row_cdf(weights: np.ndarray) -> np.ndarray:
    """Row-normalised cumulative sums of a non-negative weight matrix."""
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    return cdf


def _draw_rows(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each engagement, a column drawn from row ``rows[i]`` of a row-normalised CDF matrix."""
    n_cols = cdf.shape[1]
    flat = (np.arange(cdf.shape[0])[:, None] + cdf).ravel()
    pos = np.searchsorted(flat, rows + u, side="left")
    return np.asarray(np.clip(pos - rows * n_cols, 0, n_cols - 1))


def simulate_chunk(
    rng: np.random.Generator, cat: Catalog, sampler: ItemSampler, users: UserChunk, days: int
) -> ChunkEvents:
    """All events of ``users`` inside the window ``[0, days)`` (days since window start)."""
    start = np.maximum(users.signup_day, 0.0)
    n_eng = rng.poisson(users.activity * (days - start) / days)
    who = np.repeat(np.arange(users.size), n_eng)
    m = len(who)
    if users.type_share is None:  # topics mode: podcast or audiobook
        ctype = (rng.random(m) < users.audiobook_share[who]).astype(np.int8)
        ctype = np.where(sampler.type_available[ctype], ctype, 1 - ctype).astype(
            np.int8
        )  # a type with no items
    else:  # by the user's type preference, restricted to types that have items
        share = users.type_share * sampler.type_available + 1e-9 * sampler.type_available
        ctype = _draw_rows(_row_cdf(share), who, rng.random(m)).astype(np.int8)
    # Group from the user's taste, restricted to groups where the type has items.
    group = np.empty(m, np.int64)
    for t in range(sampler.n_types):
        sel = ctype == t
        if not sel.any():
            continue
        taste = users.taste * sampler.available[t] + 1e-9 * sampler.available[t]
        group[sel] = _draw_rows(_row_cdf(taste), who[sel], rng.random(int(sel.sum())))
    group[rng.random(m) < EXPLORE_SHARE] = sampler.n_groups
    item = sampler.draw(ctype, group, rng.random(m))
    lower = np.maximum(start[who], cat.published_day[item])
    if users.type_start_day is not None:  # a type taken up inside the window: not before that day
        lower = np.maximum(lower, users.type_start_day[who, ctype])
    keep = lower < days
    who, ctype, item, lower = who[keep], ctype[keep], item[keep], lower[keep]
    m = len(who)
    t0 = lower + rng.random(m) * (days - lower)

    weak = rng.random(m) < np.take(WEAK_SHARE, ctype)
    kind_cdf = np.cumsum(np.array(WEAK_KIND), axis=1)[ctype]
    weak_kind = np.minimum((rng.random(m)[:, None] > kind_cdf).sum(axis=1), 3)
    sampled = ~weak & (rng.random(m) < SAMPLED_SHARE)
    abandoned = weak & (rng.random(m) < ABANDON_SHARE)
    n_streams = np.where(sampled, 1, rng.geometric(1.0 / np.take(MEAN_STREAMS, ctype)))
    n_streams[abandoned] = 0

    # Streams: the first after the weak signal's lead time, the rest after exponential gaps.
    eng = np.repeat(np.arange(m), n_streams)
    first = np.concatenate([[0], np.cumsum(n_streams)[:-1]])
    gaps = rng.exponential(np.take(MEAN_GAP_DAYS, ctype[eng]))
    gaps[first[n_streams > 0]] = np.where(weak, rng.exponential(MEAN_WEAK_LEAD_DAYS, m), 0.0)[n_streams > 0]
    cum = np.cumsum(gaps)
    stream_day = t0[eng] + cum - (cum - gaps)[first[eng]]
    lo, hi = np.array(SESSION_MINUTES).T
    session_ms = (lo[ctype[eng]] + rng.random(len(eng)) * (hi - lo)[ctype[eng]]) * 60_000
    ms = session_ms * rng.beta(5.0, 1.5, len(eng))
    skipped = sampled[eng] | (rng.random(len(eng)) < SKIP_SHARE)
    ms = np.where(skipped, 1_000 + rng.random(len(eng)) * 28_999, ms)

    w = np.flatnonzero(weak)
    day = np.concatenate([stream_day, t0[w]])
    in_window = day < days
    return ChunkEvents(
        user_id=np.concatenate([users.user_id[who[eng]], users.user_id[who[w]]])[in_window],
        item_pos=np.concatenate([item[eng], item[w]])[in_window],
        second=np.minimum(np.floor(day[in_window] * DAY_S), days * DAY_S - 1).astype(np.int64),
        event_type=np.concatenate([np.zeros(len(eng), np.int8), weak_kind[w].astype(np.int8)])[in_window],
        ms_played=np.concatenate([ms.astype(np.int64), np.zeros(len(w), np.int64)])[in_window],
    )
