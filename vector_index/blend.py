"""2T-HGNN as served: the two-tower's softmax and the HGNN's item mixture, blended per item.

A 2T-HGNN version's card keeps ``two_tower.mixture_share``, the share of the HGNN's item mixture
in what it serves (``embedding_jobs.evaluate.served``, where the evaluation scores the same):

    P(b | u) = (1 - share) P_tt(b | u) + share P_mix(b | u).

P_tt is the softmax of the user's two-tower scores at the version's training temperature over its
``depth`` best items (one search of the ``item_two_tower`` collection); P_mix is the HGNN-kNN
mixture over each consumed item's graph partners (``depth`` at most, the nearest; its ``depth``
nearest items where it has no partner of the type), or over its ``depth`` nearest items when the
rule's ``reads`` is ``nearest`` (``vector_index.mixture``). The answer
is the union of both candidate lists ranked by log P(b | u), the user's consumed items left out.
An item nobody consumed in training (fresh) keeps P_tt, the tower's alone: the HGNN places it by
its text alone, far from every consumed item, so the mixture abstains on it rather than push it
below every item it knows (``baselines.blend``'s ``fresh``).
A user with no consumed item that has an HGNN vector, or a version whose share is 0, is served
the two-tower alone.
"""

from __future__ import annotations

import math
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gfm.config import Config
from gfm.errors import NotFoundError
from vector_index.mixture import item_neighbours, mixture_probs, partner_neighbours
from vector_index.search import Hit, VectorSearcher

if TYPE_CHECKING:
    from embedding_jobs.partners import Partners

__all__ = ["TwoTowerRecommender", "blend_recommendations"]


def blend_recommendations(
    tower: VectorSearcher,
    hgnn: VectorSearcher,
    user_vector: np.ndarray,
    item_ids: Sequence[int],
    k: int,
    rule: dict[str, Any],
    known: Container[int],
    content_type: str | None = None,
    depth: int = 200,
    partners: Partners | None = None,
) -> list[Hit]:
    """Top ``k`` items for a user by the blended distribution (module docstring).

    Args:
        tower: The live ``item_two_tower`` collection.
        hgnn: The live ``item_hgnn`` collection (the version the two-tower was trained on).
        user_vector: The user's two-tower vector.
        item_ids: The user's consumed items.
        k: Results to return.
        rule: ``served_rule`` of the two-tower version: ``share``, ``tower_t``, ``hgnn_t``, ``reads``.
        known: Items someone consumed in training; the others are fresh and keep P_tt.
        content_type: Keep one content type (checked by the caller).
        depth: Items read from each expert per query (``serve.mixture_depth``).
        partners: The HGNN version's graph partners when the rule reads them; None: each item's
            nearest items.

    Returns:
        Hits scored by log P(b | u), best first.

    """
    consumed = {int(i) for i in item_ids}
    neighbours: list[list[Hit]] = []
    if rule["share"] > 0:
        neighbours = (
            partner_neighbours(hgnn, item_ids, partners, depth, content_type)
            if partners is not None
            else item_neighbours(hgnn, item_ids, depth, content_type)
        )
    if not neighbours:
        return tower.search(user_vector, k, content_type=content_type, exclude_ids=sorted(consumed))[0]
    share = float(rule["share"])
    hits = tower.search(user_vector, depth, content_type=content_type)[0]
    logits = np.array([h.score for h in hits], dtype=np.float64) / float(rule["tower_t"])
    p_tt = np.exp(logits - logits.max()) if len(hits) else logits
    p_tt = p_tt / p_tt.sum() if len(hits) else p_tt
    # the mixture abstains on fresh items: they keep the tower's probability
    p_mix = mixture_probs(neighbours, float(rule["hgnn_t"]))
    total = {i: share * p for i, p in p_mix.items() if i in known}
    for hit, p in zip(hits, p_tt, strict=True):
        own = (1.0 - share) * float(p) if hit.id in known else float(p)
        total[hit.id] = total.get(hit.id, 0.0) + own
    ranked = sorted(((i, p) for i, p in total.items() if i not in consumed), key=lambda x: (-x[1], x[0]))
    return [Hit(i, math.log(p)) for i, p in ranked[:k]]


class TwoTowerRecommender:
    """The service's two-tower recommendations, each live version served by the rule on its card.

    The rule, and the partners it reads, are read once per version (not once per request).

    Args:
        cfg: The effective config (models directory, ``serve.mixture_depth``; this config's rule
            for a version without a card).
        nearest_only: Read each item's nearest items whatever the card says (the service never
            sets it; ``benchmarks/served_latency.py`` times both readings).

    """

    def __init__(self, cfg: Config, nearest_only: bool = False) -> None:
        self.cfg = cfg
        self.nearest_only = nearest_only
        self._rules: dict[str, dict[str, Any]] = {}
        self._partners: dict[str, Partners | None] = {}

    def rule(self, version: str) -> dict[str, Any]:
        """``served_rule`` of a two-tower version: ``share``, ``hgnn_version``, ``tower_t``, ``hgnn_t``, ``reads``."""
        if version not in self._rules:
            from embedding_jobs.evaluate.served import served_partners, served_rule  # torch: not at start-up

            rule = served_rule(self.cfg, version)
            if self.nearest_only:
                rule["reads"] = "nearest"
            self._rules[version] = rule
            self._partners[version] = served_partners(self.cfg, rule)
        return self._rules[version]

    def recommend(
        self,
        tower: VectorSearcher,
        hgnn: VectorSearcher,
        user_vector: np.ndarray,
        item_ids: Sequence[int],
        k: int,
        known: Container[int],
        content_type: str | None = None,
    ) -> list[Hit]:
        """Top ``k`` items for a user, without their consumed ``item_ids``.

        Blended (``blend_recommendations``) when the live two-tower's rule has a share and the
        live HGNN is the version it was trained on; else the two-tower alone.
        """
        version = tower.info().version
        rule = self.rule(version)
        if rule["share"] > 0 and item_ids:
            try:
                same = hgnn.info().version == rule["hgnn_version"]
            except NotFoundError:  # no HGNN version live
                same = False
            if same:
                depth = self.cfg.serve.mixture_depth
                partners = self._partners.get(version)
                return blend_recommendations(
                    tower, hgnn, user_vector, item_ids, k, rule, known, content_type, depth, partners
                )
        # consumed items are over-fetched and dropped in Python (VectorSearcher.search)
        return tower.search(user_vector, k, content_type=content_type, exclude_ids=list(item_ids))[0]
