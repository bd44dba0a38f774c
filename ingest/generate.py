"""``gfm generate``: a synthetic audio-streaming platform, written in the raw log contract.

Assumptions (the generator never looks at any model; each knob is a named constant in
``ingest/synthetic/``):

- **Catalogue.** Podcasts (shows) and audiobooks each belong to one of ``topics`` latent topics.
  A topic has a genre and a vocabulary of real words; titles and descriptions are built from it
  ("The Deep Space Hour: black holes and telescopes"), so text carries the topic. Creators (show
  networks, authors) own several items of one topic and type. 85% of items are tagged ``en``
  (others es/de/fr/pt/sv; the words stay English). 28% of items are published during the window,
  the rest up to two years before, so new items keep arriving.
- **Popularity.** Item quality is Zipf-like (rank^-1.4 within a type); a user picks an item of a
  topic in proportion to quality, and 10% of picks come from the type-wide charts. The top 20% of
  titles take well over 80% of streams.
- **Users.** Tastes over topics are sparse (Dirichlet, alpha 0.2). 70% listen to podcasts only,
  27% also to audiobooks (share ~ Beta(2, 3)), 3% to audiobooks only. Activity is log-normal.
  22% sign up during the window (the rest up to three years before) and act only after sign-up,
  so the last 14 days hold cold users and cold items.
- **Engagements.** A user meets an item at a uniform time after both exist. Podcasts are dense:
  ~5 streams per engagement, days apart (episodes); audiobooks are sparse: ~2.5 sessions, closer
  together. 30% of podcast and 45% of audiobook engagements open with a weak signal (follow,
  preview, or intent to pay for audiobooks) about 1.5 days before the first stream; 30% of those
  never lead to a stream. 12% of engagements are a single stream skipped within 30 s, and 7% of
  other streams are skipped too. Streams last 10-75 minutes, mostly played to the end.
- **Output.** Window ``[end_date - days, end_date)``, default 104 days ending 2026-10-31; event
  times in UTC; Parquet partitioned by event day. Users are simulated in chunks of
  ``chunk_users`` and each chunk is written as it goes, so memory holds the catalogue and one
  chunk. The same seed and sizes give byte-identical files.
- **Scale.** Defaults (4,000 users, 2,500 podcasts, 1,200 audiobooks) give ~250k events in a few
  seconds. Paper scale (10M users, 3.5M podcasts, 250K audiobooks) is ~600M events, ~1.2 GB peak
  memory with 50k-user chunks, and roughly 15-25 CPU-minutes (extrapolated from one chunk).

``tastes="communities"`` (``gfm generate --tastes communities``) replaces the topics by *taste
communities* that span every content type (podcasts, audiobooks, audio courses): users choose a
content type by their type preference, then a community by their sparse taste, then an item of that
community and type by quality. Items keep a subject, independent of the community, that the text
is written about; ``text_signal`` is the share of topic words and genres that name the community
instead (``ingest/synthetic/communities.py``). Everything else (popularity, engagements, weak
signals, skips, new users and items, chunking, determinism) is shared with the topics mode.

Both modes write the generator's truth beside the contract: ``_truth/item_groups.parquet``
(``item_id``, ``group_id``: the topic, or the community), which no pipeline stage reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.progress import Progress

from gfm.config import GenerateConfig
from gfm.errors import StageError
from ingest.manifest import RawManifest, SourceTraits, SuggestedSplit
from ingest.schema import EVENT_TYPES
from ingest.synthetic.catalog import CONTENT_TYPES, Catalog, build_catalog, render_items
from ingest.synthetic.communities import build_community_catalog, render_community_items
from ingest.synthetic.events import ChunkEvents, ItemSampler, simulate_chunk
from ingest.synthetic.users import UserChunk, draw_community_users, draw_users, users_table
from ingest.writer import RawBatchWriter

ITEM_SLICE = 200_000  # items rendered and written per file
TRUTH_DIR = "_truth"  # beside the contract folders; the raw reader and the gates never open it
TRUTH_FILE = "item_groups.parquet"
COMMUNITY_KNOBS = frozenset({"communities", "content_types", "audio_courses", "text_signal"})
# the generator writes every kind of signal the contract has
TRAITS = SourceTraits(
    has_item_text=True,
    has_item_metadata=True,
    has_user_profiles=True,
    has_weak_signals=True,
    has_play_time=True,
    has_event_times=True,
)


def window(cfg: GenerateConfig) -> tuple[datetime, datetime]:
    """Return the generated time window ``[start, end)`` in UTC."""
    end = datetime.fromisoformat(cfg.end_date)
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    return end - timedelta(days=cfg.days), end


def generate(cfg: GenerateConfig, raw_dir: Path, *, show_progress: bool = True) -> dict[str, int]:
    """Generate a synthetic raw batch into ``raw_dir`` (replacing it atomically on success).

    Args:
        cfg: Mode, sizes, seed, window and the communities mode's knobs.
        raw_dir: The raw folder to (re)create (``Config.raw_dir``).
        show_progress: Show a progress bar per chunk of users on stderr.

    Returns:
        Row counts by table.

    Raises:
        StageError: If a size or knob is out of range, or a communities-mode knob is set in the
            topics mode.

    """
    _check(cfg)
    start, end = window(cfg)
    start_s = int(start.timestamp())
    communities = cfg.tastes == "communities"
    if communities:
        sizes = (cfg.podcasts, cfg.audiobooks, cfg.audio_courses)[: cfg.content_types]
        cat = build_community_catalog(
            np.random.default_rng([cfg.seed, 10]), sizes, cfg.communities, cfg.topics, cfg.days
        )
    else:
        cat = build_catalog(
            np.random.default_rng([cfg.seed, 0]), cfg.podcasts, cfg.audiobooks, cfg.topics, cfg.days
        )
    sampler = ItemSampler(cat)
    chunks = list(range(0, cfg.users, cfg.chunk_users))
    with RawBatchWriter(raw_dir) as out, _progress(show_progress) as progress:
        items_task = progress.add_task("items", total=cat.size)
        for first in range(0, cat.size, ITEM_SLICE):
            stop = min(first + ITEM_SLICE, cat.size)
            if communities:
                items = render_community_items(cat, first, stop, cfg.seed, start_s, cfg.text_signal)
            else:
                items = render_items(cat, first, stop, cfg.seed, start_s)
            out.write_table("items", items, part=first // ITEM_SLICE)
            progress.update(items_task, completed=stop)
        _write_truth(cat, out.tmp_dir)
        users_task = progress.add_task("user chunks", total=len(chunks))
        n_events = 0
        for part, first in enumerate(chunks):
            users, rng = _draw_chunk(cfg, part, first)
            out.write_table("users", users_table(users, start_s), part=part)
            events = _events_table(simulate_chunk(rng, cat, sampler, users, cfg.days), cat, start_s, n_events)
            n_events += out.write_interactions(events, part=part)
            progress.update(users_task, advance=1)
        present = [cat.type_names[c] for c in np.unique(cat.ctype)]
        out.write_manifest(
            RawManifest(
                source="synthetic",
                created_at=datetime.now(UTC),
                seed=cfg.seed,
                window_start=start,
                window_end=end,
                content_types=sorted(present),
                fixed_split=False,
                suggested_split=SuggestedSplit(train_days=90, eval_days=14),
                generator=cfg.model_dump(exclude=None if communities else set(COMMUNITY_KNOBS)),
                traits=TRAITS,
            )
        )
    return dict(out.counts)


def _check(cfg: GenerateConfig) -> None:
    """Refuse sizes and knobs the generator cannot honour, naming the offending values."""
    communities = cfg.tastes == "communities"
    sizes = [cfg.podcasts, cfg.audiobooks] + ([cfg.audio_courses] if communities else [])
    if communities:
        if not 1 <= cfg.content_types <= len(CONTENT_TYPES):
            raise StageError(f"content_types must be 1..{len(CONTENT_TYPES)}, got {cfg.content_types}")
        if not 0.0 <= cfg.text_signal <= 1.0:
            raise StageError(f"text_signal must be within [0, 1], got {cfg.text_signal}")
        if cfg.communities < 1:
            raise StageError(f"need communities >= 1, got {cfg.communities}")
        sizes = sizes[: cfg.content_types]
    elif set_knobs := sorted(COMMUNITY_KNOBS & cfg.model_fields_set):
        raise StageError(f"{', '.join(set_knobs)}: set only with tastes='communities' (tastes is 'topics')")
    if cfg.users < 1 or min(sizes) < 0 or sum(sizes) < 1:
        raise StageError(
            f"need at least one user and one item, got {cfg.users} users, "
            f"{cfg.podcasts} podcasts, {cfg.audiobooks} audiobooks"
            + (f", {cfg.audio_courses} audio courses" if len(sizes) > 2 else "")
        )
    if cfg.days < 15 or cfg.chunk_users < 1 or cfg.topics < 1:
        raise StageError(
            f"need days >= 15, chunk_users >= 1, topics >= 1; got {cfg.days}, {cfg.chunk_users}, {cfg.topics}"
        )


def _draw_chunk(cfg: GenerateConfig, part: int, first: int) -> tuple[UserChunk, np.random.Generator]:
    """The users of chunk ``part`` and the generator that then simulates their events."""
    n = min(cfg.chunk_users, cfg.users - first)
    if cfg.tastes == "communities":
        rng = np.random.default_rng([cfg.seed, 11, part])
        return draw_community_users(rng, first + 1, n, cfg.communities, cfg.content_types, cfg.days), rng
    rng = np.random.default_rng([cfg.seed, 1, part])
    return draw_users(rng, first + 1, n, cfg.topics, cfg.days), rng


def _write_truth(cat: Catalog, batch_dir: Path) -> None:
    """Write ``_truth/item_groups.parquet``: every item once with its taste group (topic or community)."""
    folder = batch_dir / TRUTH_DIR
    folder.mkdir()
    table = pa.table({"item_id": pa.array(cat.item_id), "group_id": pa.array(cat.group.astype(np.int64))})
    pq.write_table(table, folder / TRUTH_FILE)


def _events_table(ev: ChunkEvents, cat: Catalog, start_s: int, first_id: int) -> pa.Table:
    """Sort a chunk's events by time and give them ids ``ev0000000001``... continuing across chunks."""
    # By time, then user; ties keep simulation order (deterministic). One int64 key sorts fast.
    order = np.argsort(ev.second * (1 << 34) + ev.user_id, kind="stable")
    ids = pa.array(np.arange(first_id + 1, first_id + 1 + len(order), dtype=np.int64))
    micros = (start_s + ev.second[order]) * 1_000_000
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise(
                "ev", pc.utf8_lpad(pc.cast(ids, pa.string()), 10, "0"), ""
            ),
            "user_id": pa.array(ev.user_id[order]),
            "item_id": pa.array(cat.item_id[ev.item_pos[order]]),
            "event_at": pa.array(micros, type=pa.timestamp("us", tz="UTC")),
            "event_type": pa.DictionaryArray.from_arrays(
                pa.array(ev.event_type[order].astype(np.int32)), pa.array(EVENT_TYPES)
            ).cast(pa.string()),
            "ms_played": pa.array(ev.ms_played[order]),
        }
    )


@contextlib.contextmanager
def _progress(show: bool) -> Iterator[Progress]:
    if show:
        from gfm.progress import make_progress

        with make_progress() as progress:
            yield progress
    else:
        yield Progress(disable=True)
