"""What a two-tower version serves, as an evaluation scorer: its towers, blended with its HGNN.

A 2T-HGNN version's card names its HGNN version and keeps ``two_tower.mixture_share``. The
service (``vector_index.blend``) answers a user with

    P(b | u) = (1 - share) P_tt(b | u) + share P_mix(b | u),

P_tt the two-tower's softmax at its training temperature over its ``serve.mixture_depth`` best
items, P_mix the HGNN's item mixture (``baselines.item_mixture``) over each consumed item's graph
partners (at most ``serve.mixture_depth``, the nearest of them; ``embedding_jobs.partners``). It
reads the item's ``serve.mixture_depth`` nearest items instead (HGNN-kNN's reading) where the item
has no partner of the type, where the card says ``two_tower.mixture_reads: nearest`` (every card
before round 37), or where the HGNN version has no partner file (exported before round 37). An
item nobody consumed in training keeps P_tt: the mixture abstains on it (``baselines.blend``).
``served_scorer`` scores exactly that, so the report, the publish gate's champion and the service
read a version the same way. A user who consumed nothing in training, a version without HGNN
inputs (2T), a card with share 0 (or none, as before round 28) or an HGNN trained with the margin
loss: the towers alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from embedding_jobs.checkpoint import hgnn_temperature, read_card
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import EvalTask, Scores
from embedding_jobs.export import read_vectors
from embedding_jobs.partners import Partners
from gfm.config import Config
from gfm.errors import NotFoundError
from gfm.naming import checkpoint_dir, export_path

__all__ = ["ServedRule", "served_partners", "served_rule", "served_scorer"]

ServedRule = dict[str, Any]


def served_rule(cfg: Config, version: str) -> ServedRule:
    """How a two-tower version is served: ``{"share", "hgnn_version", "tower_t", "hgnn_t", "reads"}``.

    ``share`` is 0 when the towers are served alone; ``reads`` is ``partners`` or ``nearest`` (see
    the module docstring for when).
    """
    try:
        card = read_card(checkpoint_dir(cfg.models_dir, "two_tower", version))
        tower = card.config.get("two_tower", {})
        hgnn_version = card.extra.get("hgnn_version")
    except NotFoundError:  # vectors copied without their card: this config's rule
        tower, hgnn_version = cfg.two_tower.model_dump(), None
    share = float(tower.get("mixture_share", 0.0)) if tower.get("use_hgnn", True) else 0.0
    hgnn_t = hgnn_temperature(cfg, hgnn_version) if hgnn_version and share > 0 else None
    if hgnn_t is None:
        share = 0.0
    reads = str(tower.get("mixture_reads", "nearest"))
    if reads == "partners" and not (share > 0 and _partner_path(cfg, str(hgnn_version)).exists()):
        reads = "nearest"
    return {
        "share": share,
        "hgnn_version": hgnn_version,
        "tower_t": float(tower.get("temperature", cfg.two_tower.temperature)),
        "hgnn_t": hgnn_t,
        "reads": reads,
    }


def _partner_path(cfg: Config, hgnn_version: str) -> Path:
    return export_path(cfg.embeddings_dir, "hgnn", hgnn_version, "partner")


def served_partners(cfg: Config, rule: ServedRule) -> Partners | None:
    """The partners a rule's mixture reads (None when it reads each item's nearest items)."""
    return Partners.read(_partner_path(cfg, rule["hgnn_version"])) if rule["reads"] == "partners" else None


def served_scorer(
    cfg: Config, version: str, consumed: pd.Series, popularity: pd.Series
) -> Callable[[EvalTask], Scores]:
    """A task -> scores function ranking as the service serves ``version`` (``served_rule``).

    Args:
        cfg: The config (directories; ``serve.mixture_depth``).
        version: A two-tower version with exported vectors.
        consumed: Per user, the items consumed in training (the mixture reads these alone, as the
            service reads its consumed-items table).
        popularity: Training-window consumers per item (users the export does not know).

    Raises:
        NotFoundError: If the version's vectors, or its HGNN's when blended, are missing.

    """
    users = read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "user"), "user_id")
    items = read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "item"))
    rule = served_rule(cfg, version)
    if rule["share"] == 0.0:
        return lambda t: baselines.two_tower(t, users, items, popularity)
    hgnn = read_vectors(export_path(cfg.embeddings_dir, "hgnn", rule["hgnn_version"], "item"))
    partners = served_partners(cfg, rule)
    depth = cfg.serve.mixture_depth
    none = pd.Series(dtype=object)  # follows and previews are not read: the service has none

    def scorer(task: EvalTask) -> Scores:
        tower = baselines.two_tower(task, users, items, popularity)
        mixture = baselines.item_mixture(
            task, hgnn, consumed, none, popularity, rule["hgnn_t"], depth, partners=partners
        )
        history = baselines.has_history(task, hgnn, consumed, none)
        fresh = torch.from_numpy(popularity.reindex(task.item_ids, fill_value=0).to_numpy() == 0)
        share = rule["share"]
        return baselines.blend(tower, rule["tower_t"], mixture, history, "sum", share, depth, fresh)

    return scorer
