"""The synthetic item catalogue: numeric attributes held in memory, text rendered in slices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.synthetic import vocab

CONTENT_TYPES = ("podcast", "audiobook")  # type codes 0 and 1
ZIPF_EXPONENT = 1.4  # item quality = rank ** -ZIPF_EXPONENT within a content type
ITEMS_PER_CREATOR = (5.0, 3.0)  # mean items per creator, per type (shows per network, books per author)
NEW_ITEM_SHARE = 0.28  # items published inside the window; the rest up to two years before
DAY_S = 86_400


@dataclass(frozen=True)
class Catalog:
    """Item attributes as arrays indexed by item position (item_id = position + 1)."""

    ctype: np.ndarray  # int8 type code
    topic: np.ndarray  # int32
    quality: np.ndarray  # float64 popularity weight (heavy-tailed)
    published_day: np.ndarray  # float64 days since window start (negative: before the window)
    creator: np.ndarray  # int64 creator index
    language: np.ndarray  # int8 index into vocab.LANGUAGES
    creator_attrs: np.ndarray  # (n_creators, 4): brand word, show template, first name, last name
    n_topics: int

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
    """Draw the catalogue: topic, quality, publication day, creator and language of every item."""
    ctype = np.concatenate([np.zeros(podcasts, np.int8), np.ones(audiobooks, np.int8)])
    n = len(ctype)
    topic_share = rng.dirichlet(np.full(n_topics, 3.0))
    topic = rng.choice(n_topics, size=n, p=topic_share).astype(np.int32)
    quality = np.empty(n)
    for code, count in enumerate((podcasts, audiobooks)):
        ranks = rng.permutation(count) + 1.0
        quality[ctype == code] = ranks**-ZIPF_EXPONENT
    is_new = rng.random(n) < NEW_ITEM_SHARE
    published_day = np.where(is_new, rng.random(n) * days, -rng.random(n) * 730.0)
    creator = np.zeros(n, np.int64)
    next_creator = 0
    for code in (0, 1):
        for k in range(n_topics):
            members = np.flatnonzero((ctype == code) & (topic == k))
            n_creators = max(1, int(np.ceil(len(members) / ITEMS_PER_CREATOR[code])))
            creator[members] = next_creator + rng.integers(0, n_creators, len(members))
            next_creator += n_creators
    shares = np.array([share for _, share, _ in vocab.LANGUAGES])
    language = rng.choice(len(shares), size=n, p=shares / shares.sum()).astype(np.int8)
    creator_attrs = np.stack(
        [
            rng.integers(0, 4, next_creator),
            rng.integers(0, len(vocab.SHOW_TEMPLATES), next_creator),
            rng.integers(0, len(vocab.FIRST_NAMES), next_creator),
            rng.integers(0, len(vocab.LAST_NAMES), next_creator),
        ],
        axis=1,
    )
    return Catalog(ctype, topic, quality, published_day, creator, language, creator_attrs, n_topics)


def render_items(cat: Catalog, start: int, stop: int, seed: int, window_start_s: int) -> pa.Table:
    """Rows ``start:stop`` of the items table, with titles and descriptions built from topic words.

    Random words are drawn from a generator seeded by (seed, start), so a given slicing of the
    catalogue always renders the same text.
    """
    topics = vocab.topics(cat.n_topics)
    rng = np.random.default_rng([seed, 1, start])
    m = stop - start
    kw_idx = rng.random((m, 12)).argsort(axis=1)[:, :4]
    picks = rng.integers(0, 1 << 30, size=(m, 4))  # cadence/template, phrase/adjective, hours, spare
    titles, descriptions = [], []
    for r, i in enumerate(range(start, stop)):
        topic = topics[cat.topic[i]]
        kw = [topic.keywords[j % len(topic.keywords)] for j in kw_idx[r]]
        brand_i, template_i, first_i, last_i = cat.creator_attrs[cat.creator[i]]
        brand = topic.brands[brand_i % len(topic.brands)]
        person = f"{vocab.FIRST_NAMES[first_i]} {vocab.LAST_NAMES[last_i]}"
        note = vocab.LANGUAGES[cat.language[i]][2]
        p = picks[r]
        if cat.ctype[i] == 0:
            show = vocab.SHOW_TEMPLATES[template_i].format(b=brand)
            titles.append(f"{show}: {kw[0]} and {kw[1]}")
            phrase = vocab.EPISODE_PHRASES[p[1] % len(vocab.EPISODE_PHRASES)].format(k=kw[3])
            cadence = vocab.CADENCES[p[0] % len(vocab.CADENCES)]
            descriptions.append(
                f"A {cadence} podcast about {kw[0]}, {kw[1]} and {kw[2]}. "
                f"Hosted by {person}, each episode {phrase}.{note}"
            )
        else:
            template = vocab.BOOK_TEMPLATES[p[0] % len(vocab.BOOK_TEMPLATES)]
            adj = vocab.ADJECTIVES[p[1] % len(vocab.ADJECTIVES)]
            titles.append(template.format(adj=adj, b=brand, K=kw[0].title(), K2=kw[1].title()))
            descriptions.append(
                f"An audiobook about {kw[0]}, {kw[1]} and {kw[2]} by {person}. "
                f"A {3 + p[2] % 22}-hour listen on {topic.label}.{note}"
            )
    sl = slice(start, stop)
    published_s = window_start_s + np.round(cat.published_day[sl] * DAY_S).astype(np.int64)
    return pa.table(
        {
            "item_id": pa.array(cat.item_id[sl]),
            "content_type": labels(cat.ctype[sl], CONTENT_TYPES),
            "title": pa.array(titles, pa.string()),
            "description": pa.array(descriptions, pa.string()),
            "language": labels(cat.language[sl], tuple(code for code, _, _ in vocab.LANGUAGES)),
            "genre": labels(cat.topic[sl], tuple(t.genre for t in topics)),
            "creator_id": pc.binary_join_element_wise(
                "cr", pc.cast(pa.array(cat.creator[sl]), pa.string()), ""
            ),
            "published_at": pa.array(published_s * 1_000_000, type=pa.timestamp("us", tz="UTC")),
        }
    )


def labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """Map integer codes to strings through a dictionary (no Python loop)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(names)).cast(pa.string())
