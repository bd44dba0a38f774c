"""The quality gate: the candidate's headline HR@10 against the live version's, and its drift.

The live version is the release record's (``gfm.releases``). The gate refuses a candidate whose
2T-HGNN mean HR@10 is more than ``publish.hr_tolerance`` below the live card's, and, when
``publish.min_neighbour_overlap`` is set, one whose item-neighbour overlap with the live two-tower
vectors falls under that floor (``embedding_jobs.evaluate.drift``). The drift figures go on the
card either way.
"""

from __future__ import annotations

from typing import Any

from gfm.config import Config
from gfm.errors import GateFailedError
from gfm.naming import export_path
from gfm.progress import console
from pipeline.context import RunContext
from pipeline.provenance import read_card, read_cards

__all__ = ["HEADLINE_MODEL", "headline_metrics", "live_card", "quality_gate"]

# the headline model whose mean HR@10 the gate compares
HEADLINE_MODEL = "2T-HGNN"


def headline_metrics(report: dict[str, Any]) -> dict[str, float]:
    """HR@10 of the headline model per content type, and their mean."""
    by_type = report["models"][HEADLINE_MODEL]["by_type"]
    out = {t: float(m["hr@10"]) for t, m in by_type.items() if m.get("n_users", 0) > 0}
    out["mean"] = sum(out.values()) / max(len(out), 1)
    return out


def quality_gate(ctx: RunContext) -> None:
    """Publish only if the candidate's HR@10 is not more than the tolerance below the champion's.

    The champion is the live version's published two-tower export, scored on the candidate's
    evaluation window (``embedding_jobs.evaluate.champion``): same users, items and window. The
    mean runs over the content types both have; a type that appeared or disappeared since the live
    version's card is reported, not averaged in. Without the live export (removed, or a data dir
    from before exports were kept) the gate falls back to the live card's own figure and says so.
    """
    from embedding_jobs.evaluate.champion import export_exists, score_export

    cfg, card = ctx.cfg, ctx.card
    live = live_card(cfg)
    headline = {t: v for t, v in card.metrics["headline"].items() if t != "mean"}
    new = card.metrics["headline"]["mean"]
    if live is None:
        console.print(f"no live version yet: {HEADLINE_MODEL} HR@10 {new:.4f} is published as the first")
        card.gates["quality"] = {"live_version": None, "new": new, "passed": True}
        return
    live_types = {t for t in live["metrics"]["headline"] if t != "mean"}
    appeared, gone = sorted(set(headline) - live_types), sorted(live_types - set(headline))
    if export_exists(cfg, live["version"]):
        champion = score_export(cfg, live["version"])
        common = sorted(set(headline) & set(champion))
        old = sum(champion[t] for t in common) / max(len(common), 1)
        new = sum(headline[t] for t in common) / max(len(common), 1)
        basis = "champion on this window"
    else:
        champion, common = {}, sorted(set(headline) & live_types)
        old = float(live["metrics"]["headline"]["mean"])
        basis = "live card (its export is gone; another window)"
    passed = new >= old - cfg.publish.hr_tolerance
    card.gates["quality"] = {
        "live_version": live["version"],
        "basis": basis,
        "live": old,
        "new": new,
        "champion_by_type": champion,
        "candidate_by_type": headline,
        "types_compared": common,
        "types_appeared": appeared,
        "types_gone": gone,
        "tolerance": cfg.publish.hr_tolerance,
        "passed": passed,
    }
    if appeared or gone:
        console.print(
            f"content types since {live['version']}: appeared {appeared or 'none'}, gone {gone or 'none'} "
            "(not in the comparison)"
        )
    if not passed:
        raise GateFailedError(
            "quality",
            f"{HEADLINE_MODEL} mean HR@10 {new:.4f} is more than {cfg.publish.hr_tolerance} below the live "
            f"version {live['version']} ({old:.4f}, {basis}); {live['version']} stays live",
        )
    console.print(f"{HEADLINE_MODEL} HR@10 {new:.4f} vs live {live['version']} {old:.4f} ({basis}): passed")
    _drift_gate(ctx, live["version"])


def _drift_gate(ctx: RunContext, live_version: str) -> None:
    """How far the two-tower vectors moved from the live version's; optionally refuse a reshuffle."""
    import pandas as pd

    from embedding_jobs.evaluate.drift import compare_versions, overlap_below

    cfg, card = ctx.cfg, ctx.card
    both = [
        export_path(cfg.embeddings_dir, "two_tower", v, "item").exists() for v in (live_version, ctx.version)
    ]
    if not all(both):
        return
    types = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["item_id", "content_type"])
    drift = compare_versions(
        cfg.embeddings_dir, live_version, ctx.version, item_types=types.set_index("item_id")["content_type"]
    )
    card.metrics["drift"] = drift
    shown = [
        f"{what} overlap@{drift['k']} {section['overlap_at_k']:.3f}"
        for what, section in (("item neighbour", drift["items"]), ("user top-k", drift.get("users") or {}))
        if section.get("overlap_at_k") is not None
    ]
    console.print(f"drift from {live_version}: {', '.join(shown) or 'no shared ids'}")
    floor = cfg.publish.min_neighbour_overlap
    reason = overlap_below(drift, floor) if floor is not None else None
    card.gates["quality"]["drift_floor"] = floor
    if reason:
        card.gates["quality"]["passed"] = False
        raise GateFailedError("quality", f"{reason}; {live_version} stays live")


def live_card(cfg: Config) -> dict[str, Any] | None:
    """The provenance card of the live version per the release record, if any.

    A data dir from before the release record has no ``live`` there: the newest published card
    stands in for it.
    """
    from gfm.releases import read_record

    live = read_record(cfg.data_dir).live
    if live is not None:
        return read_card(cfg, live)
    published = [c for c in read_cards(cfg) if c.get("status") == "published"]
    return published[-1] if published else None
