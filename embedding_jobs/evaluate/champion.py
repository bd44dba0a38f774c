"""The live version as champion: its published two-tower vectors scored on the candidate's window.

A new version's evaluation uses the newest evaluation window; the live version's card holds
figures from an older one, possibly over other content types. Comparing those numbers compares
data, not models. ``score_export`` scores any exported two-tower version on the current marts
with the same protocol (``protocol.build_tasks`` and ``protocol.score``) and read as it is served
(``served.served_scorer``: its towers, blended with its HGNN by the rule on its card), so the
quality gate can set the candidate against the champion on the same users, items and window.
"""

from __future__ import annotations

from embedding_jobs.data.interactions import read_mart
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import build_tasks, score, user_cap
from embedding_jobs.evaluate.served import served_rule, served_scorer
from gfm.config import Config
from gfm.naming import export_path

__all__ = ["export_exists", "score_export"]


def export_exists(cfg: Config, version: str) -> bool:
    """Whether a two-tower version's user and item vectors, and the HGNN's it is served with, are on disk."""
    if not all(export_path(cfg.embeddings_dir, "two_tower", version, e).exists() for e in ("item", "user")):
        return False
    rule = served_rule(cfg, version)
    return (
        rule["share"] == 0 or export_path(cfg.embeddings_dir, "hgnn", rule["hgnn_version"], "item").exists()
    )


def score_export(cfg: Config, version: str) -> dict[str, float]:
    """HR@k per content type of an exported two-tower version on the current evaluation window.

    Users the export does not know get popularity, and items it does not know (published since)
    score zero, as the published version would serve them. Types without evaluated users are left
    out.

    Raises:
        StageError: If a mart is missing.
        NotFoundError: If the version's vectors are missing.

    """
    items = read_mart(cfg, "dim_items")
    train = read_mart(cfg, "fct_interactions")
    cap = user_cap(cfg)  # the same users as the candidate's report
    evals = read_mart(cfg, "fct_eval_interactions")
    tasks = build_tasks(items, train, evals, max_users=cap, seed=cfg.evaluate.seed)
    pop = baselines.item_popularity(train)
    consumed, _ = baselines.user_item_lists(train)
    served = served_scorer(cfg, version, consumed, pop)  # the rule its card records, as the report
    key = f"hr@{cfg.evaluate.k}"
    return {
        task.name: float(score(task, served(task), cfg.evaluate)[key]) for task in tasks if len(task.user_ids)
    }
