"""``evaluate``: every model through the seed's protocol, into ``report.json`` and ``report.html``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from embedding_jobs.checkpoint import hgnn_temperature
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import (
    ALL_TYPES,
    SEGMENTS,
    TIERS,
    EvalTask,
    Scores,
    build_tasks,
    score,
    user_cap,
)
from embedding_jobs.evaluate.report import target_checks, write_report
from embedding_jobs.evaluate.served import served_rule, served_scorer
from embedding_jobs.export import read_vectors
from gfm.config import Config
from gfm.errors import NotFoundError
from gfm.naming import checkpoint_dir, export_path
from gfm.progress import console, make_progress
from gfm.versioning import new_version, version_time

__all__ = ["ABLATION", "TOWERS_ALONE", "evaluate", "evaluate_version", "hgnn_scorer", "report_dir"]

ABLATION = "2T-HGNN (other relation sampler)"  # hgnn.balanced_sampler flipped
TOWERS_ALONE = "2T-HGNN, two-tower alone"  # the 2T-HGNN version without two_tower.mixture_share

Scorer = Callable[[EvalTask], Scores]  # a task -> (user matrix, item matrix) or a chunk scorer


def hgnn_scorer(
    vectors: tuple[Any, Any],
    temperature: float | None,
    consumed: pd.Series,
    weak: pd.Series,
    pop: pd.Series,
    depth: int | None = None,
) -> Scorer:
    """HGNN-kNN: a mixture of the user's items' softmax neighbourhoods, or their mean vector (margin loss).

    ``depth``: each item's neighbourhood over its nearest candidates only, as served; None: all.
    """
    if temperature is None:
        return lambda t: baselines.mean_vector(t, vectors, consumed, weak, pop)
    return lambda t: baselines.item_mixture(t, vectors, consumed, weak, pop, temperature, depth)


def report_dir(cfg: Config, version: str) -> Path:
    """``<reports_dir>/eval/<version>/``."""
    return cfg.reports_dir / "eval" / version


def evaluate(
    cfg: Config,
    *,
    hgnn_version: str,
    two_tower_version: str,
    baseline_two_tower_version: str | None = None,
    ablation_versions: dict[str, str] | None = None,
) -> Path:
    """Evaluate every model and write the report; returns the path of ``report.json``.

    Args:
        cfg: The config (``cfg.evaluate`` holds k, coverage depth and recall k).
        hgnn_version: The HGNN export behind the "HGNN" baseline (HGNN-kNN, ``hgnn_scorer``).
        two_tower_version: The 2T-HGNN version; it names the report folder.
        baseline_two_tower_version: A two-tower version trained without HGNN inputs ("2T").
        ablation_versions: Model name -> two-tower version, e.g.
            ``{"2T-HGNN (other relation sampler)": "v..."}``.

    Raises:
        StageError: If a mart is missing.
        NotFoundError: If a version's vectors are missing.

    """
    from embedding_jobs.data.interactions import read_mart
    from embedding_jobs.text_features import text_features_path
    from feature_repo.store.materialize import training_window_end
    from ingest.manifest import read_manifest

    started = time.perf_counter()
    manifest = read_manifest(cfg.raw_dir)
    dim_items = read_mart(cfg, "dim_items")
    facts = read_mart(cfg, "fct_interactions")
    evals = read_mart(cfg, "fct_eval_interactions")
    ec = cfg.evaluate
    cap = user_cap(cfg)
    tasks = build_tasks(
        dim_items, facts, evals, full_catalogue=manifest.fixed_split, max_users=cap, seed=ec.seed
    )
    pop = baselines.item_popularity(facts)
    consumed, weak = baselines.user_item_lists(facts)

    scorers: dict[str, Scorer] = {"Popularity": lambda t: baselines.popularity(t, pop)}
    skipped: dict[str, str] = {}
    try:
        text = read_vectors(text_features_path(cfg))
        scorers["text-kNN"] = lambda t: baselines.mean_vector(t, text, consumed, weak, pop)
    except NotFoundError as exc:  # ID-only datasets have no text
        skipped["text-kNN"] = str(exc)
    hgnn = read_vectors(export_path(cfg.embeddings_dir, "hgnn", hgnn_version, "item"))
    temperature = hgnn_temperature(cfg, hgnn_version)
    scorers["HGNN"] = hgnn_scorer(hgnn, temperature, consumed, weak, pop, cfg.serve.mixture_depth)
    towers = {"2T": baseline_two_tower_version, "2T-HGNN": two_tower_version, **(ablation_versions or {})}
    if baseline_two_tower_version is None:
        skipped["2T"] = (
            "no 2T baseline was trained for this version: `gfm evaluate --version V` trains it and "
            "rewrites this report (evaluate.train_companions trains it inside `gfm run`)"
        )
    for name, version in towers.items():
        if version is not None:
            scorers[name] = served_scorer(cfg, version, consumed, pop)
    rule = served_rule(cfg, two_tower_version)
    if rule["share"] > 0:  # what the towers alone give, beside what is served
        scorers[TOWERS_ALONE] = _two_tower_scorer(cfg, two_tower_version, pop)
    references, reference_info = _reference_scorers(cfg, dim_items, facts, pop, skipped)
    # peers beside the gfm models they are compared with; the Oracle, a ceiling, last
    oracle = references.pop("Oracle", None)
    scorers = {**scorers, **references, **({"Oracle": oracle} if oracle is not None else {})}

    models: dict[str, dict[str, Any]] = {}
    with make_progress() as progress:
        bar = progress.add_task("evaluating", total=len(scorers) * len(tasks))
        for name, scorer in scorers.items():
            models[name] = _empty_model()
            for task in tasks:
                progress.update(bar, description=f"evaluating {name} on {task.name}")
                _store(models[name], task, score(task, scorer(task), ec))
                progress.advance(bar)

    metric = f"hr@{ec.k}"
    report: dict[str, Any] = {
        "version": two_tower_version,
        "created_at": datetime.now(UTC).isoformat(),
        "source": manifest.source,
        "fixed_split": manifest.fixed_split,
        "train_end": training_window_end(cfg.marts_dir).isoformat(),
        "protocol": {
            **ec.model_dump(),
            "tiers": "head: most popular items holding the first 50% of the type's training consumptions; "
            "torso: the next 30%; tail: the rest; new: no training consumer",
            "cold_user": "no consumption in the training window",
            "cold_in_type": "no consumption of that content type in the training window (may have other "
            "types): by_type[type]['cold_in_type']",
            "HGNN": (
                "HGNN-kNN: score(u, i) = log of the mean over u's training items h of the HGNN softmax's "
                f"P(i | h) = exp(cos(h, i) / t) / sum over the candidates j != h of exp(cos(h, j) / t), "
                f"t = {temperature} (its training temperature)"
                if temperature is not None
                else "HGNN-kNN: cosine of the mean of u's training items' unit HGNN vectors with i"
            )
            + f"; each item's P(i | h) over its {cfg.serve.mixture_depth} nearest candidates "
            "(serve.mixture_depth, as served); no training items: popularity",
            "2T-HGNN": (
                f"as served: P(i | u) = {1 - rule['share']:g} P_tt(i | u) + {rule['share']:g} P_mix(i | u), "
                f"P_tt the two-tower's softmax at t = {rule['tower_t']} over its "
                f"{cfg.serve.mixture_depth} best candidates, P_mix HGNN-kNN's mixture (HGNN "
                f"{rule['hgnn_version']}"
                + (
                    "; each item's softmax over its graph partners of the type, its nearest "
                    "candidates where it has none"
                    if rule.get("reads") == "partners"
                    else ""
                )
                + "); items nobody consumed in training keep P_tt (the mixture "
                "abstains on them); users without training items: the two-tower alone. "
                f"'{TOWERS_ALONE}': u . i of the exported vectors"
                if rule["share"] > 0
                else "u . i of the exported two-tower vectors"
            ),
            "item-kNN": "score(u, i) = sum over u's training items j of cosine(j, i), the cosine of the "
            "items' training consumer sets (D^-1/2 RᵀR D^-1/2, zero diagonal); no consumption: popularity",
            "LightGCN": f"PyG LightGCN on the training user-item consumption graph, BPR with uniform "
            f"negatives, L2 {ec.lightgcn_reg} on ego embeddings, {ec.lightgcn_layers} layers, "
            f"{ec.lightgcn_dim}-d, {ec.lightgcn_epochs} epochs; users without a node: popularity",
            "Oracle": "knows the generator's true item groups (raw/_truth/item_groups.parquet): "
            "score(u, i) = taste_u[g(i)] * pop_i / sum of pop over items of i's group and type, taste_u "
            "= share of u's training consumptions per group (all types), pop = training consumers + 1; "
            "no consumption: popularity. A ceiling for (model - Popularity) / (Oracle - Popularity)",
        },
        "inputs": {
            "hgnn_version": hgnn_version,
            "two_tower_versions": towers,
            "skipped": skipped,
            "references": reference_info,
        },
        "tasks": {t.name: _task_summary(t) for t in tasks},
        "models": models,
        "seconds": time.perf_counter() - started,
    }
    report["targets"] = target_checks(report, metric)
    json_path, html_path = write_report(report, report_dir(cfg, two_tower_version), metric)
    console.print(f"HTML report: {html_path}")
    return json_path


def _reference_scorers(
    cfg: Config, dim_items: pd.DataFrame, facts: pd.DataFrame, pop: pd.Series, skipped: dict[str, str]
) -> tuple[dict[str, Scorer], dict[str, Any]]:
    """The collaborative-filtering peers and the Oracle, fitted on the training window.

    Returns the scorers (``item-kNN``, ``LightGCN``, ``Oracle``, as configured and available)
    and what fitting them cost; a left-out model gets its reason in ``skipped``.
    """
    from embedding_jobs.evaluate.lightgcn import train_lightgcn
    from embedding_jobs.evaluate.oracle import Oracle, read_item_groups, truth_path
    from embedding_jobs.evaluate.peers import ItemKNN, lightgcn_scores

    ec = cfg.evaluate
    scorers: dict[str, Scorer] = {}
    info: dict[str, Any] = {}
    item_ids = dim_items["item_id"].to_numpy(dtype="int64")
    if ec.peers:
        start = time.perf_counter()
        knn = ItemKNN.fit(facts, item_ids)
        scorers["item-kNN"] = lambda t: knn.scorer(t, pop)
        info["item-kNN"] = {"seconds": time.perf_counter() - start, "similarity_nnz": int(knn.sim.nnz)}
        if ec.lightgcn:
            result = train_lightgcn(facts, item_ids, ec)
            scorers["LightGCN"] = lambda t: lightgcn_scores(t, result, pop)
            info["LightGCN"] = {
                "seconds": result.seconds,
                "device": result.device,
                "epochs": len(result.losses),
                "seed": ec.seed,
                "loss_first_epoch": result.losses[0] if result.losses else None,
                "loss_last_epoch": result.losses[-1] if result.losses else None,
            }
        else:
            skipped["LightGCN"] = "evaluate.lightgcn is off (GFM__EVALUATE__LIGHTGCN=true turns it on)"
    else:
        skipped["item-kNN"] = skipped["LightGCN"] = "evaluate.peers is off"
    groups = read_item_groups(cfg.raw_dir)
    if groups is None:
        skipped["Oracle"] = f"no true item groups at {truth_path(cfg.raw_dir)} (only synthetic data has them)"
    else:
        oracle = Oracle.fit(groups, facts, dim_items)
        scorers["Oracle"] = lambda t: oracle.scores(t, pop)
        info["Oracle"] = {"groups": len(oracle.groups), "truth": str(truth_path(cfg.raw_dir))}
    return scorers, info


def _two_tower_scorer(cfg: Config, version: str, pop: pd.Series) -> Scorer:
    users = read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "user"), "user_id")
    items = read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "item"))
    return lambda t: baselines.two_tower(t, users, items, pop)


def _empty_model() -> dict[str, Any]:
    return {"by_type": {}, "by_segment": {s: {} for s in SEGMENTS}, "by_tier": {t: {} for t in TIERS}}


def _store(body: dict[str, Any], task: EvalTask, result: dict[str, Any]) -> None:
    """Put one task's result into the report layout (``by_type[type]``, ``by_segment[seg][type]`` ...)."""
    segments, tiers = result.pop("by_segment"), result.pop("by_tier")
    if task.name == ALL_TYPES:
        body["full"] = result
        return
    body["by_type"][task.name] = result
    for seg, cell in segments.items():
        body["by_segment"][seg][task.name] = cell
    for tier, cell in tiers.items():
        body["by_tier"][tier][task.name] = cell


def _task_summary(task: EvalTask) -> dict[str, Any]:
    return {
        "n_users": len(task.user_ids),
        "n_eligible_users": task.n_eligible_users,
        "users_sampled": len(task.user_ids) < task.n_eligible_users,
        "n_cold_users": int(task.is_cold_user.sum()),
        "n_cold_in_type_users": int(task.is_cold_in_type.sum()),
        "n_items": len(task.item_ids),
        "n_relevant": len(task.relevant.rows),
        "n_excluded": len(task.excluded.rows),
        "items_by_tier": {t: int((task.item_tier == i).sum()) for i, t in enumerate(TIERS)},
    }


def evaluate_version(
    cfg: Config,
    version: str,
    *,
    hgnn_version: str | None = None,
    baseline_version: str | None = None,
    ablation_version: str | None = None,
    train_missing: bool = True,
) -> Path:
    """Evaluate a 2T-HGNN version against every baseline, training the comparison runs if needed.

    The "2T" baseline (no HGNN inputs) and the ablation (an HGNN trained with the other relation
    sampler, ``hgnn.balanced_sampler`` flipped, and a 2T-HGNN on it) get their own version ids,
    dated one second before ``version`` so that "latest version" still means the main run. Which runs belong to a version
    is kept in ``companions.json`` beside its report, so a rerun reuses them.

    Args:
        cfg: The config.
        version: The 2T-HGNN version to evaluate.
        hgnn_version: Its HGNN version (default: the one recorded in its checkpoint card).
        baseline_version: An existing 2T version (default: from companions.json, else trained).
        ablation_version: An existing ablation two-tower version (idem).
        train_missing: Train the comparison runs that are missing; else leave them out. The
            ablation is trained only when ``evaluate.ablation`` is on as well.

    Returns:
        The path of ``report.json``.

    """
    from embedding_jobs.checkpoint import load_checkpoint
    from embedding_jobs.train_hgnn import train_hgnn
    from embedding_jobs.train_two_tower import train_two_tower

    _, card = load_checkpoint(checkpoint_dir(cfg.models_dir, "two_tower", version))
    hgnn_version = hgnn_version or card.extra.get("hgnn_version")
    if hgnn_version is None:
        raise NotFoundError(f"two-tower {version} was trained without HGNN inputs: pass the HGNN version")
    folder = report_dir(cfg, version)
    companions_path = folder / "companions.json"
    companions = json.loads(companions_path.read_text()) if companions_path.exists() else {}
    companions.update({k: v for k, v in {"2T": baseline_version, ABLATION: ablation_version}.items() if v})
    stamp = version_time(version) - timedelta(seconds=1)
    if train_missing and "2T" not in companions:
        aux = new_version(f"{version}|2T", now=stamp)
        tc = cfg.two_tower.model_copy(update={"use_hgnn": False})
        train_two_tower(cfg.model_copy(update={"two_tower": tc}), aux, None, role="baseline")
        companions["2T"] = aux
    if train_missing and cfg.evaluate.ablation and ABLATION not in companions:
        hgnn_aux = new_version(f"{version}|hgnn-other-sampler", now=stamp)
        hc = cfg.hgnn.model_copy(update={"balanced_sampler": not cfg.hgnn.balanced_sampler})
        train_hgnn(cfg.model_copy(update={"hgnn": hc}), hgnn_aux)
        aux = new_version(f"{version}|ablation", now=stamp)
        train_two_tower(cfg, aux, hgnn_aux, role="ablation")
        companions[ABLATION] = aux
        companions["ablation_hgnn"] = hgnn_aux
    folder.mkdir(parents=True, exist_ok=True)
    companions_path.write_text(json.dumps(companions, indent=2) + "\n")
    return evaluate(
        cfg,
        hgnn_version=hgnn_version,
        two_tower_version=version,
        baseline_two_tower_version=companions.get("2T"),
        ablation_versions={ABLATION: companions[ABLATION]} if ABLATION in companions else None,
    )
