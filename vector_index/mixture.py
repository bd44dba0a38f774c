"""Recommendations from the HGNN's item vectors: a mixture of the user's items' neighbourhoods.

The HGNN is trained as a sampled softmax over co-consumed pairs at temperature ``t``, so for an
item ``h`` it gives P(b | h) = exp(cos(h, b) / t) / Z(h) over the items of ``b``'s type. A user is
read as a mixture of their items (the evaluation's HGNN-kNN, ``embedding_jobs.evaluate.baselines.
item_mixture``): score(b) = log of the mean over the user's items ``h`` of P(b | h). Averaging the
items into one vector instead would serve what lies between a user's tastes, not each of them.

Served from Milvus, each item's P(b | h) is computed over its ``depth`` nearest items (of the
requested type, or of any type when none is given; one batched search), so Z(h) sums over those
alone. That is an approximation of the whole softmax: a far item's term is exp(-(cos gap) / t)
of the nearest's, small at t = .05 but not zero. The evaluation reads the same depth
(``serve.mixture_depth``), so the report scores what is served
(tests/vector_index/test_index_service.py checks both against each other).

The served 2T-HGNN reads each item's softmax over its graph partners instead where it has some of
the type (``partner_neighbours``; ``two_tower.mixture_reads``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from gfm.config import Config
from gfm.errors import NotFoundError
from vector_index.search import Hit, VectorSearcher

if TYPE_CHECKING:
    from embedding_jobs.partners import Partners

__all__ = [
    "MAX_HISTORY",
    "HgnnRecommender",
    "item_neighbours",
    "mix",
    "mixture_probs",
    "mixture_recommendations",
    "partner_neighbours",
]

MAX_HISTORY = 500  # a user's items read at most (the first this many of their consumed items)
FETCH_AT_ONCE = 4096  # partner vectors fetched per Milvus query


def mix(neighbours: Sequence[Sequence[Hit]], temperature: float, drop: set[int], k: int) -> list[Hit]:
    """Combine each history item's neighbours into the mixture's top ``k``.

    Args:
        neighbours: Per history item, its nearest items with their cosines (the item itself left out).
        temperature: The softmax temperature the vectors were trained at.
        drop: Items not to return (the user's own), still counted in each item's normaliser.
        k: Results to return.

    Returns:
        The top ``k`` items by log of the mean P(b | h), best first.

    """
    total = mixture_probs(neighbours, temperature)
    ranked = sorted(((i, p) for i, p in total.items() if i not in drop), key=lambda x: (-x[1], x[0]))
    return [Hit(i, math.log(p)) for i, p in ranked[:k]]


def mixture_probs(neighbours: Sequence[Sequence[Hit]], temperature: float) -> dict[int, float]:
    """P_mix(b | user): the mean over history items of each one's softmax over its neighbours.

    Items outside every neighbour list are left out (probability 0). The mean is over every
    history item given, one with no neighbours included.
    """
    total: dict[int, float] = defaultdict(float)
    for hits in neighbours:
        if not hits:
            continue
        logits = np.array([h.score for h in hits], dtype=np.float64) / temperature
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        for hit, p in zip(hits, probs, strict=True):
            total[hit.id] += float(p)
    n = max(len(neighbours), 1)
    return {i: p / n for i, p in total.items()}


def item_neighbours(
    searcher: VectorSearcher, item_ids: Sequence[int], depth: int, content_type: str | None = None
) -> list[list[Hit]]:
    """Each of a user's items' ``depth`` nearest items in the live HGNN collection (one batched search).

    The first ``MAX_HISTORY`` items are read; those without a vector in the live version are left
    out, so an empty list means none has one.
    """
    history = [int(i) for i in item_ids[:MAX_HISTORY]]
    vectors = searcher.get_vectors(history)
    if not vectors:
        return []
    ids = list(vectors)
    # each item's own entry is fetched with the rest and left out of its list only (P(h | h) is no term)
    found = searcher.search(np.stack([vectors[i] for i in ids]), depth + 1, content_type=content_type)
    return [[h for h in hits if h.id != own][:depth] for own, hits in zip(ids, found, strict=True)]


def partner_neighbours(
    searcher: VectorSearcher,
    item_ids: Sequence[int],
    partners: Partners,
    depth: int,
    content_type: str | None = None,
) -> list[list[Hit]]:
    """Each of a user's items' partners (of ``content_type``) with their cosines, the ``depth`` nearest.

    An item with no such partner in the live version gets its ``depth`` nearest items instead
    (``item_neighbours``). The evaluation reads the same (``baselines.item_mixture``'s ``partners``).
    """
    history = [int(i) for i in item_ids[:MAX_HISTORY]]
    vectors = searcher.get_vectors(history)
    if not vectors:
        return []
    ids = list(vectors)
    mates = {h: partners.of(h, content_type) for h in ids}
    wanted = sorted({int(p) for m in mates.values() for p in m} - set(vectors))
    found = dict(vectors)
    for lo in range(0, len(wanted), FETCH_AT_ONCE):
        found.update(searcher.get_vectors(wanted[lo : lo + FETCH_AT_ONCE]))
    out: dict[int, list[Hit]] = {}
    for h in ids:
        have = [int(p) for p in mates[h] if int(p) in found and int(p) != h]
        if have:
            query = vectors[h] / max(float(np.linalg.norm(vectors[h])), 1e-12)
            rows = np.stack([found[p] for p in have])
            cos = (rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)) @ query
            top = np.argsort(-cos, kind="stable")[:depth]
            out[h] = [Hit(have[j], float(cos[j])) for j in top]
    lonely = [h for h in ids if h not in out]
    if lonely:
        found_near = searcher.search(
            np.stack([vectors[h] for h in lonely]), depth + 1, content_type=content_type
        )
        for own, hits in zip(lonely, found_near, strict=True):
            out[own] = [h for h in hits if h.id != own][:depth]
    return [out[h] for h in ids]


def mixture_recommendations(
    searcher: VectorSearcher,
    item_ids: Sequence[int],
    k: int,
    temperature: float,
    content_type: str | None = None,
    depth: int = 200,
) -> list[Hit]:
    """Top ``k`` items for a user who consumed ``item_ids``, from the live HGNN collection.

    Args:
        searcher: The live ``item_hgnn`` collection.
        item_ids: The user's consumed items (the first ``MAX_HISTORY`` are read).
        k: Results to return.
        temperature: The HGNN's softmax temperature.
        content_type: Keep one content type (checked against the collection's types).
        depth: Neighbours read per history item.

    Raises:
        NotFoundError: If none of the items has a vector in the live version.

    """
    neighbours = item_neighbours(searcher, item_ids, depth, content_type)
    if not neighbours:
        raise NotFoundError("none of the user's items has an HGNN vector in the live version")
    return mix(neighbours, temperature, drop={int(i) for i in item_ids}, k=k)


class HgnnRecommender:
    """The service's ``model=hgnn`` recommendations, each live version read at its own temperature.

    The temperature comes from the version's card, read once per version (not once per request).

    Args:
        cfg: The effective config (models directory; the HGNN settings for a version without a card).

    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._temperatures: dict[str, float] = {}

    def temperature(self, version: str) -> float:
        """The softmax temperature the live HGNN version was trained at."""
        if version not in self._temperatures:
            from embedding_jobs.checkpoint import hgnn_temperature  # torch: not at start-up

            found = hgnn_temperature(self.cfg, version)
            self._temperatures[version] = found if found is not None else self.cfg.hgnn.temperature
        return self._temperatures[version]

    def recommend(
        self, searcher: VectorSearcher, item_ids: Sequence[int], k: int, content_type: str | None = None
    ) -> list[Hit]:
        """Top ``k`` items for a user who consumed ``item_ids`` (``mixture_recommendations``)."""
        version = searcher.info().version
        t = self.temperature(version)
        return mixture_recommendations(searcher, item_ids, k, t, content_type, self.cfg.serve.mixture_depth)
