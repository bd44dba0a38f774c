"""2T-HGNN as served: the two-tower's softmax and the HGNN's item mixture, blended per item.

A 2T-HGNN version's card keeps ``two_tower.mixture_share``, the share of the HGNN's item mixture
in what it serves (``embedding_jobs.evaluate.served``, where the evaluation scores the same):

    P(b | u) = (1 - share) P_tt(b | u) + share P_mix(b | u).

P_tt is the softmax of the user's two-tower scores at the version's training temperature over its
``depth`` best items (one search of the ``item_two_tower`` collection); P_mix is the HGNN-kNN
mixture over each consumed item's ``depth`` nearest items (``vector_index.mixture``). The answer
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
from typing import Any

import numpy as np

from gfm.config import Config
from gfm.errors import NotFoundError
from vector_index.mixture import item_neighbours, mixture_probs
from vector_index.search import Hit, VectorSearcher

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
) -> list[Hit]:
    """Top ``k`` items for a user by the blended distribution (module docstring).

    Args:
        tower: The live ``item_two_tower`` collection.
        hgnn: The live ``item_hgnn`` collection (the version the two-tower was trained on).
        user_vector: The user's two-tower vector.
        item_ids: The user's consumed items.
        k: Results to return.
        rule: ``served_rule`` of the two-tower version: ``share``, ``tower_t``, ``hgnn_t``.
        known: Items someone consumed in training; the others are fresh and keep P_tt.
        content_type: Keep one content type (checked by the caller).
        depth: Items read from each expert per query (``serve.mixture_depth``).

    Returns:
        Hits scored by log P(b | u), best first.

    """
    consumed = {int(i) for i in item_ids}
    neighbours = item_neighbours(hgnn, item_ids, depth, content_type) if rule["share"] > 0 else []
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

    The rule is read once per version (not once per request).

    Args:
        cfg: The effective config (models directory, ``serve.mixture_depth``; this config's rule
            for a version without a card).

    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._rules: dict[str, dict[str, Any]] = {}

    def rule(self, version: str) -> dict[str, Any]:
        """``served_rule`` of a two-tower version: ``share``, ``hgnn_version``, ``tower_t``, ``hgnn_t``."""
        if version not in self._rules:
            from embedding_jobs.evaluate.served import served_rule  # torch: not at start-up

            self._rules[version] = served_rule(self.cfg, version)
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
        rule = self.rule(tower.info().version)
        if rule["share"] > 0 and item_ids:
            try:
                same = hgnn.info().version == rule["hgnn_version"]
            except NotFoundError:  # no HGNN version live
                same = False
            if same:
                depth = self.cfg.serve.mixture_depth
                return blend_recommendations(
                    tower, hgnn, user_vector, item_ids, k, rule, known, content_type, depth
                )
        # consumed items are over-fetched and dropped in Python (VectorSearcher.search)
        return tower.search(user_vector, k, content_type=content_type, exclude_ids=list(item_ids))[0]
