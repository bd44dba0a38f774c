"""The synthetic item catalogue: numeric attributes held in memory, text rendered in slices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.synthetic import vocab

#: Type codes 0, 1, 2. The topics mode uses the first two; the communities mode the first N.
CONTENT_TYPES = ("podcast", "audiobook", "audio_course")
ZIPF_EXPONENT = 1.4  # item quality = rank ** -ZIPF_EXPONENT within a content type
# mean items per creator, per type (shows per network, books per author, courses per school)
ITEMS_PER_CREATOR = (5.0, 3.0, 4.0)
NEW_ITEM_SHARE = 0.28  # items published inside the window; the rest up to two years before
DAY_S = 86_400


@dataclass(frozen=True)
class Catalog:
    """Item attributes as arrays indexed by item position (item_id = position + 1).

    ``group`` is what users choose items by: the topic in the topics mode, the taste community in
    the communities mode (where ``subject``, independent of it, is what most of the text is about).
    """

    ctype: np.ndarray  # int8 type code
    group: np.ndarray  # int32 taste group: topic or community
    quality: np.ndarray  # float64 popularity weight (heavy-tailed)
    published_day: np.ndarray  # float64 days since window start (negative: before the window)
    creator: np.ndarray  # int64 creator index
    language: np.ndarray  # int8 index into vocab.LANGUAGES
    creator_attrs: np.ndarray  # (n_creators, 4): brand word, show template, first name, last name
    n_groups: int
    type_names: tuple[str, ...] = CONTENT_TYPES[:2]
    subject: np.ndarray | None = None  # int32 text topic (communities mode only)

    @property
    def n_types(self) -> int:
        """Number of content types the catalogue is built for (some may have no items)."""
        return len(self.type_names)

    @property
    def size(self) -> int:
        """Number of items."""
        return len(self.ctype)

    @property
    def item_id(self) -> np.ndarray:
        """Contract item ids (1-based)."""
        return np.arange(1, self.size + 1, dtype=np.int64)


def build_catalog(
    rng: np.random.Generator, podcasts: int, audiobooks: int, n_topics: int, days: int
) -> Catalog:
    """Draw the topics-mode catalogue: topic, quality, publication day, creator and language of every item."""
    sizes = (podcasts, audiobooks)
    ctype = type_codes(sizes)
    topic_share = rng.dirichlet(np.full(n_topics, 3.0))
    topic = rng.choice(n_topics, size=len(ctype), p=topic_share).astype(np.int32)
    quality = zipf_quality(rng, ctype, sizes)
    published_day = publication_days(rng, len(ctype), days)
    creator, n_creators = assign_creators(rng, ctype, topic, n_topics, len(sizes))
    language = draw_languages(rng, len(ctype))
    creator_attrs = draw_creator_attrs(rng, n_creators)
    return Catalog(ctype, topic, quality, published_day, creator, language, creator_attrs, n_groups=n_topics)


def type_codes(sizes: tuple[int, ...]) -> np.ndarray:
    """Type code of every item: ``sizes[0]`` zeros, then ``sizes[1]`` ones, and so on."""
    return np.repeat(np.arange(len(sizes), dtype=np.int8), sizes)


def zipf_quality(rng: np.random.Generator, ctype: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
    """Popularity weight ``rank ** -ZIPF_EXPONENT``, ranks shuffled within each content type."""
    quality = np.empty(len(ctype))
    for code, count in enumerate(sizes):
        ranks = rng.permutation(count) + 1.0
        quality[ctype == code] = ranks**-ZIPF_EXPONENT
    return quality


def publication_days(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Days since window start: ``NEW_ITEM_SHARE`` inside the window, the rest up to two years before."""
    is_new = rng.random(n) < NEW_ITEM_SHARE
    return np.where(is_new, rng.random(n) * days, -rng.random(n) * 730.0)


def assign_creators(
    rng: np.random.Generator, ctype: np.ndarray, subject: np.ndarray, n_subjects: int, n_types: int
) -> tuple[np.ndarray, int]:
    """Group the items of each (type, subject) into creators of ``ITEMS_PER_CREATOR`` items on average.

    Returns:
        The creator index of every item and the number of creators.

    """
    creator = np.zeros(len(ctype), np.int64)
    next_creator = 0
    for code in range(n_types):
        for k in range(n_subjects):
            members = np.flatnonzero((ctype == code) & (subject == k))
            n_creators = max(1, int(np.ceil(len(members) / ITEMS_PER_CREATOR[code])))
            creator[members] = next_creator + rng.integers(0, n_creators, len(members))
            next_creator += n_creators
    return creator, next_creator


def draw_languages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Language index (into ``vocab.LANGUAGES``) of ``n`` items, by the shares listed there."""
    shares = np.array([share for _, share, _ in vocab.LANGUAGES])
    return rng.choice(len(shares), size=n, p=shares / shares.sum()).astype(np.int8)


def draw_creator_attrs(rng: np.random.Generator, n_creators: int) -> np.ndarray:
    """Per creator: brand word, show template, first name and last name indices."""
    return np.stack(
        [
            rng.integers(0, 4, n_creators),
            rng.integers(0, len(vocab.SHOW_TEMPLATES), n_creators),
            rng.integers(0, len(vocab.FIRST_NAMES), n_creators),
            rng.integers(0, len(vocab.LAST_NAMES), n_creators),
        ],
        axis=1,
    )


def render_items(cat: Catalog, start: int, stop: int, seed: int, window_start_s: int) -> pa.Table:
    """Rows ``start:stop`` of the items table, with titles and descriptions built from topic words.

    Random words are drawn from a generator seeded by (seed, start), so a given slicing of the
    catalogue always renders the same text.
    """
    topics = vocab.topics(cat.n_groups)
    rng = np.random.default_rng([seed, 1, start])
    m = stop - start
    kw_idx = rng.random((m, 12)).argsort(axis=1)[:, :4]
    picks = rng.integers(0, 1 << 30, size=(m, 4))  # cadence/template, phrase/adjective, hours, spare
    titles, descriptions = [], []
    for r, i in enumerate(range(start, stop)):
        topic = topics[cat.group[i]]
        kw = [topic.keywords[j % len(topic.keywords)] for j in kw_idx[r]]
        brand_i, template_i, first_i, last_i = cat.creator_attrs[cat.creator[i]]
        title, description = item_text(
            int(cat.ctype[i]),
            kw,
            brand=topic.brands[brand_i % len(topic.brands)],
            show_template=int(template_i),
            person=f"{vocab.FIRST_NAMES[first_i]} {vocab.LAST_NAMES[last_i]}",
            label=topic.label,
            note=vocab.LANGUAGES[cat.language[i]][2],
            picks=picks[r],
        )
        titles.append(title)
        descriptions.append(description)
    return items_table(cat, start, stop, titles, descriptions, cat.group[start:stop], topics, window_start_s)


def item_text(
    ctype: int,
    kw: list[str],
    *,
    brand: str,
    show_template: int,
    person: str,
    label: str,
    note: str,
    picks: np.ndarray,
) -> tuple[str, str]:
    """Title and description of one item of type code ``ctype`` from four keyword phrases.

    Args:
        ctype: Content type code (index into ``CONTENT_TYPES``).
        kw: Four keyword phrases (three for the description, the fourth for a podcast's episodes).
        brand: The creator's brand word ("Deep Space").
        show_template: The creator's show-name template (podcasts).
        person: Host, author or teacher.
        label: The subject named in audiobook and course descriptions ("space").
        note: Appended to the description (the language note, or empty).
        picks: Four random integers: cadence/template, phrase/adjective, hours/lessons, spare.

    Returns:
        ``(title, description)``.

    """
    p = picks
    if ctype == 0:
        show = vocab.SHOW_TEMPLATES[show_template].format(b=brand)
        phrase = vocab.EPISODE_PHRASES[p[1] % len(vocab.EPISODE_PHRASES)].format(k=kw[3])
        cadence = vocab.CADENCES[p[0] % len(vocab.CADENCES)]
        return (
            f"{show}: {kw[0]} and {kw[1]}",
            f"A {cadence} podcast about {kw[0]}, {kw[1]} and {kw[2]}. "
            f"Hosted by {person}, each episode {phrase}.{note}",
        )
    if ctype == 1:
        template = vocab.BOOK_TEMPLATES[p[0] % len(vocab.BOOK_TEMPLATES)]
        adj = vocab.ADJECTIVES[p[1] % len(vocab.ADJECTIVES)]
        return (
            template.format(adj=adj, b=brand, K=kw[0].title(), K2=kw[1].title()),
            f"An audiobook about {kw[0]}, {kw[1]} and {kw[2]} by {person}. "
            f"A {3 + p[2] % 22}-hour listen on {label}.{note}",
        )
    template = vocab.COURSE_TEMPLATES[p[0] % len(vocab.COURSE_TEMPLATES)]
    return (
        template.format(b=brand, K=kw[0].title(), K2=kw[1].title()),
        f"An audio course on {kw[0]}, {kw[1]} and {kw[2]} in {4 + p[2] % 17} lessons, "
        f"taught by {person}. For anyone curious about {label}.{note}",
    )


def items_table(
    cat: Catalog,
    start: int,
    stop: int,
    titles: list[str],
    descriptions: list[str],
    genre_topic: np.ndarray,
    topics: list[vocab.Topic],
    window_start_s: int,
) -> pa.Table:
    """The items rows ``start:stop`` in contract columns; ``genre_topic`` indexes ``topics`` per row."""
    sl = slice(start, stop)
    published_s = window_start_s + np.round(cat.published_day[sl] * DAY_S).astype(np.int64)
    return pa.table(
        {
            "item_id": pa.array(cat.item_id[sl]),
            "content_type": labels(cat.ctype[sl], cat.type_names),
            "title": pa.array(titles, pa.string()),
            "description": pa.array(descriptions, pa.string()),
            "language": labels(cat.language[sl], tuple(code for code, _, _ in vocab.LANGUAGES)),
            "genre": labels(genre_topic, tuple(t.genre for t in topics)),
            "creator_id": pc.binary_join_element_wise(
                "cr", pc.cast(pa.array(cat.creator[sl]), pa.string()), ""
            ),
            "published_at": pa.array(published_s * 1_000_000, type=pa.timestamp("us", tz="UTC")),
        }
    )


def labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """Map integer codes to strings through a dictionary (no Python loop)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names)).cast(pa.string())
