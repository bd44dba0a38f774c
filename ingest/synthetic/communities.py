"""The communities mode's catalogue: taste communities that span every content type, weakly in the text.

Every item has a *community* (the audience it draws; users choose items by community) and a
*subject* (what it is about), drawn independently of each other. The creator follows the subject:
a show network or author covers one subject and lends its brand word and host to the title and
description, so neither the creator nor the names say anything about the community. Each topic
word of the text (the four keyword phrases, the subject label of audiobooks and courses) and the
genre come from the community's vocabulary with probability ``text_signal``, from the subject's
otherwise. At ``text_signal = 0`` the text is independent of who listens; at 1 every topic word
names the community, as in the topics mode.

Communities and subjects share one list of vocabularies (``vocab.topics``): community k and
subject k speak of the same things, so a text encoder that reads community words reads a topic.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingest.synthetic import vocab
from ingest.synthetic.catalog import (
    CONTENT_TYPES,
    Catalog,
    assign_creators,
    draw_creator_attrs,
    draw_languages,
    item_text,
    items_table,
    publication_days,
    type_codes,
    zipf_quality,
)

SHARE_CONCENTRATION = 3.0  # Dirichlet alpha of community (and subject) sizes: some large, none tiny
N_KEYWORDS = 4  # keyword phrases per item (podcast titles use two, descriptions three, episodes one)


def build_community_catalog(
    rng: np.random.Generator, sizes: tuple[int, ...], n_communities: int, n_subjects: int, days: int
) -> Catalog:
    """Draw the catalogue of the communities mode.

    Args:
        rng: The catalogue's random generator.
        sizes: Items per content type, in ``CONTENT_TYPES`` order (its length is the type count).
        n_communities: Taste communities; every type draws its items from all of them.
        n_subjects: Subjects the text is written about, independent of the community.
        days: Window length (publication days of new items fall inside it).

    Returns:
        The catalogue; ``group`` holds the community, ``subject`` the subject.

    """
    ctype = type_codes(sizes)
    n = len(ctype)
    community_share = rng.dirichlet(np.full(n_communities, SHARE_CONCENTRATION))
    community = rng.choice(n_communities, size=n, p=community_share).astype(np.int32)
    subject_share = rng.dirichlet(np.full(n_subjects, SHARE_CONCENTRATION))
    subject = rng.choice(n_subjects, size=n, p=subject_share).astype(np.int32)
    quality = zipf_quality(rng, ctype, sizes)
    published_day = publication_days(rng, n, days)
    creator, n_creators = assign_creators(rng, ctype, subject, n_subjects, len(sizes))
    language = draw_languages(rng, n)
    creator_attrs = draw_creator_attrs(rng, n_creators)
    return Catalog(
        ctype,
        community,
        quality,
        published_day,
        creator,
        language,
        creator_attrs,
        n_groups=n_communities,
        type_names=CONTENT_TYPES[: len(sizes)],
        subject=subject,
    )


def render_community_items(
    cat: Catalog, start: int, stop: int, seed: int, window_start_s: int, text_signal: float
) -> pa.Table:
    """Rows ``start:stop`` of the items table of a communities-mode catalogue.

    Random choices come from a generator seeded by (seed, start), so a given slicing of the
    catalogue always renders the same text.

    Args:
        cat: A catalogue from ``build_community_catalog``.
        start: First item position.
        stop: One past the last item position.
        seed: The generator seed.
        window_start_s: Window start in Unix seconds.
        text_signal: Probability that a topic word (or the genre) comes from the community.

    Returns:
        The items rows in contract columns.

    """
    if cat.subject is None:
        raise ValueError("render_community_items needs a catalogue with subjects (build_community_catalog)")
    n_subjects = int(cat.subject.max()) + 1 if cat.size else 1
    topics = vocab.topics(max(cat.n_groups, n_subjects))
    rng = np.random.default_rng([seed, 12, start])
    m = stop - start
    kw_idx = rng.random((m, 12)).argsort(axis=1)[:, :N_KEYWORDS]
    # which vocabulary each topic word uses: N_KEYWORDS keywords, the label, then the genre
    from_community = rng.random((m, N_KEYWORDS + 2)) < text_signal
    picks = rng.integers(0, 1 << 30, size=(m, 4))
    community, subject = cat.group[start:stop], cat.subject[start:stop]
    titles, descriptions = [], []
    for r, i in enumerate(range(start, stop)):
        about = topics[subject[r]]
        source = [topics[community[r]] if c else about for c in from_community[r]]
        kw = [source[j].keywords[kw_idx[r, j] % len(source[j].keywords)] for j in range(N_KEYWORDS)]
        brand_i, template_i, first_i, last_i = cat.creator_attrs[cat.creator[i]]
        title, description = item_text(
            int(cat.ctype[i]),
            kw,
            brand=about.brands[brand_i % len(about.brands)],
            show_template=int(template_i),
            person=f"{vocab.FIRST_NAMES[first_i]} {vocab.LAST_NAMES[last_i]}",
            label=source[N_KEYWORDS].label,
            note=vocab.LANGUAGES[cat.language[i]][2],
            picks=picks[r],
        )
        titles.append(title)
        descriptions.append(description)
    genre_topic = np.where(from_community[:, N_KEYWORDS + 1], community, subject)
    return items_table(cat, start, stop, titles, descriptions, genre_topic, topics, window_start_s)
