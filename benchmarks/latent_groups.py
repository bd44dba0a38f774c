"""How much of the Oracle's lift the logs support: the Oracle's own form with groups learned from the logs.

    python benchmarks/latent_groups.py --data-dir DIR --groups 24 48 --seeds 1 2 3 \
        --out benchmarks/results/latent_groups_communities.json

The Oracle (``embedding_jobs/evaluate/oracle.py``) is told the generator's true item groups and
scores ``taste_u[g(i)] * quality of i within (g(i), type)``, mixed with the type-wide charts. A
ceiling no learner can reach by construction; what a learner could reach is the same ranking with
the groups *inferred from the training window*. This script fits latent Dirichlet allocation
(the generative model the synthetic users follow: a Dirichlet taste over groups, items drawn per
group; as a recommender, Marlin's "user rating profile" model, NIPS 2003) to the binary
user x item matrix of training consumptions of every type, and scores each type's items as the
Oracle does with the learned soft groups:

    score(u, i) = (1 - e) * sum_k theta_u[k] * phi_k[i] / sum(phi_k[j] : j of i's type) + e * chart_i

``theta_u`` is the user's inferred group mixture, ``phi_k`` group k's distribution over items,
``chart_i`` the item's share of its type's training consumers, ``e`` the Oracle's chart share
(also reported with ``e = 0``). Users without training consumptions get popularity, as in every
model. Every figure is the evaluation's own protocol (``build_tasks`` and ``score``, the same
sampled users), next to Popularity, item-kNN and the Oracle on the same tasks.

If the learned-groups model lands near the Oracle, the logs hold the groups and the learned models
leave lift on the table; if it lands near Popularity, the Oracle's lift is mostly out of reach
from these logs. Synthetic data only (``raw/_truth/item_groups.parquet`` for the Oracle).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.interactions import read_mart
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.oracle import Oracle, read_item_groups
from embedding_jobs.evaluate.peers import ItemKNN
from embedding_jobs.evaluate.protocol import EvalTask, build_tasks, score, user_cap
from gfm.config import Config
from ingest.manifest import read_manifest
from ingest.synthetic.events import EXPLORE_SHARE

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script: the sibling module below

from benchmarks.group_search import (  # noqa: E402
    consumption_matrix,
    fit_groups,
    log_likelihood,
    refine_groups,
    spectral_groups,
)


def group_scores(
    task: EvalTask,
    theta: pd.DataFrame,
    phi: pd.DataFrame,
    pop: pd.Series,
    explore: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(user matrix, item matrix)`` of the Oracle's form with learned groups (see the module doc)."""
    n_groups = phi.shape[0]
    items = phi.reindex(columns=task.item_ids, fill_value=0.0).to_numpy(np.float64)  # (G, I) of this type
    within = items / items.sum(axis=1, keepdims=True).clip(1e-12)
    counts = pop.reindex(task.item_ids, fill_value=0).to_numpy(np.float64)
    chart = counts / max(counts.sum(), 1.0)
    users = np.zeros((len(task.user_ids), n_groups + 2), dtype=np.float32)
    known = theta.index.get_indexer(task.user_ids)
    has = known >= 0
    users[has, :n_groups] = (1.0 - explore) * theta.to_numpy()[known[has]]
    users[has, n_groups] = explore
    users[~has, n_groups + 1] = 1.0  # no training consumption: popularity
    item_matrix = np.concatenate(
        [within.T, chart[:, None], baselines.pop_column(task, pop).numpy().astype(np.float64)], axis=1
    )
    return torch.from_numpy(users), torch.from_numpy(item_matrix.astype(np.float32))


def agreement(
    truth: pd.Series, hard: np.ndarray, item_ids: np.ndarray, dim_items: pd.DataFrame, consumed: np.ndarray
) -> dict[str, float]:
    """Adjusted mutual information of the learned hard groups with the true ones, per content type.

    Only items with a training consumer are compared: an item nobody consumed carries no evidence.
    """
    from sklearn.metrics import adjusted_mutual_info_score

    types = dim_items.set_index("item_id")["content_type"].reindex(item_ids).to_numpy()
    true = truth.reindex(item_ids).to_numpy()
    out = {}
    for name in sorted(set(types.tolist())):
        mask = (types == name) & ~pd.isna(true) & consumed
        out[str(name)] = float(adjusted_mutual_info_score(true[mask].astype(np.int64), hard[mask]))
    return out


def cells(result: dict[str, Any], k: int) -> dict[str, Any]:
    """The figures this benchmark compares: HR@k over all users and cold-in-type users, with sizes."""
    return {
        "all": result[f"hr@{k}"],
        "cold_in_type": result["cold_in_type"][f"hr@{k}"],
        "n_users": result["n_users"],
        "n_cold_in_type": result["cold_in_type"]["n_users"],
    }


def main() -> None:
    """Fit the learned-groups model per group count and seed, score every type, write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a data dir with built marts")
    parser.add_argument("--groups", type=int, nargs="+", default=[24], help="group counts to fit")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds of every fit")
    parser.add_argument(
        "--init",
        nargs="+",
        choices=("lda", "spectral", "truth"),
        default=["lda"],
        help="how the first groups are found: LDA, the spectral planted-partition estimator, or the "
        "true groups (a check of the refinement)",
    )
    parser.add_argument("--max-iter", type=int, default=30, help="LDA's batch EM iterations")
    parser.add_argument("--rounds", type=int, default=300, help="rounds of refine_groups")
    parser.add_argument("--out", type=Path, required=True, help="JSON to write")
    args = parser.parse_args()

    cfg = Config.load(data_dir=args.data_dir)
    ec = cfg.evaluate
    dim_items = read_mart(cfg, "dim_items")
    facts = read_mart(cfg, "fct_interactions")
    evals = read_mart(cfg, "fct_eval_interactions")
    tasks = build_tasks(dim_items, facts, evals, max_users=user_cap(cfg), seed=ec.seed)
    pop = baselines.item_popularity(facts)
    item_ids = dim_items["item_id"].to_numpy(np.int64)

    references: dict[str, Any] = {"Popularity": lambda t: baselines.popularity(t, pop)}
    knn = ItemKNN.fit(facts, item_ids)
    references["item-kNN"] = lambda t: knn.scorer(t, pop)
    groups = read_item_groups(cfg.raw_dir)
    if groups is not None:
        oracle = Oracle.fit(groups, facts, dim_items)
        references["Oracle"] = lambda t: oracle.scores(t, pop)
    models: dict[str, Any] = {
        name: {t.name: cells(score(t, scorer(t), ec), ec.k) for t in tasks}
        for name, scorer in references.items()
    }

    matrix, users = consumption_matrix(facts, item_ids)
    consumed = np.asarray(matrix.sum(axis=0)).ravel() > 0
    type_idx = np.unique(dim_items["content_type"].to_numpy(), return_inverse=True)[1]
    truth_fit: dict[str, Any] = {}
    if groups is not None:
        true = groups.reindex(item_ids).to_numpy()
        if not pd.isna(true).any():
            n_true = int(true.max()) + 1
            truth_fit = {
                "groups": n_true,
                "log-likelihood": log_likelihood(matrix, type_idx, true.astype(np.int64), n_true),
            }
            print(f"true groups: log-likelihood {truth_fit['log-likelihood']:.0f}", flush=True)
    fits: list[dict[str, Any]] = []
    for init in args.init:
        for n_groups in args.groups:
            for seed in args.seeds:
                started = time.perf_counter()
                row: dict[str, Any] = {"init": init, "groups": n_groups, "seed": seed}
                if init == "lda":
                    theta, phi, hard = fit_groups(matrix, n_groups, seed, args.max_iter)
                    row["fit_seconds"] = time.perf_counter() - started
                    theta_frame = pd.DataFrame(theta, index=users)
                    phi_frame = pd.DataFrame(phi, columns=item_ids)
                    for label, explore in (("with charts", EXPLORE_SHARE), ("groups only", 0.0)):
                        row[label] = {
                            t.name: cells(
                                score(t, group_scores(t, theta_frame, phi_frame, pop, explore), ec), ec.k
                            )
                            for t in tasks
                        }
                elif init == "spectral":
                    hard = spectral_groups(matrix, n_groups, seed)
                    row["fit_seconds"] = time.perf_counter() - started
                else:  # the true groups: does the refinement keep them?
                    if groups is None or n_groups != truth_fit.get("groups"):
                        raise SystemExit("--init truth needs the true groups and --groups set to their count")
                    hard = groups.reindex(item_ids).to_numpy().astype(np.int64)
                    row["fit_seconds"] = 0.0
                # the Oracle itself, told the learned hard groups instead of the true ones
                learned = Oracle.fit(pd.Series(hard.astype(np.int64), index=item_ids), facts, dim_items)
                row["Oracle's scorer, learned hard groups"] = {
                    t.name: cells(score(t, learned.scores(t, pop), ec), ec.k) for t in tasks
                }
                refined = refine_groups(matrix, type_idx, hard, n_groups, args.rounds, seed)
                learned = Oracle.fit(pd.Series(refined, index=item_ids), facts, dim_items)
                row["Oracle's scorer, groups refined on its likelihood"] = {
                    t.name: cells(score(t, learned.scores(t, pop), ec), ec.k) for t in tasks
                }
                row["log-likelihood"] = {
                    "learned hard groups": log_likelihood(matrix, type_idx, hard, n_groups),
                    "refined": log_likelihood(matrix, type_idx, refined, n_groups),
                }
                row["share of consumed items the refinement left in their group"] = float(
                    np.mean(refined[consumed] == hard[consumed])
                )
                if groups is not None:
                    row["agreement with the true groups (AMI)"] = agreement(
                        groups, hard, item_ids, dim_items, consumed
                    )
                    row["refined agreement with the true groups (AMI)"] = agreement(
                        groups, refined, item_ids, dim_items, consumed
                    )
                fits.append(row)
                first = row["Oracle's scorer, groups refined on its likelihood"]
                print(
                    f"{init} G={n_groups} seed={seed} ({row['fit_seconds']:.0f} s), log-likelihood "
                    f"{row['log-likelihood']['learned hard groups']:.0f} -> "
                    f"{row['log-likelihood']['refined']:.0f}, refined: "
                    + ", ".join(
                        f"{name} {cell['all']:.3f} / {cell['cold_in_type']:.3f}"
                        for name, cell in first.items()
                    ),
                    flush=True,
                )

    summary: dict[str, Any] = {}
    for init in args.init:
        for n_groups in args.groups:
            mine = [f for f in fits if f["groups"] == n_groups and f["init"] == init]
            for label in (
                "with charts",
                "groups only",
                "Oracle's scorer, learned hard groups",
                "Oracle's scorer, groups refined on its likelihood",
            ):
                if label not in mine[0]:
                    continue
                name = (
                    f"{init} groups, G={n_groups}, {label}"
                    if init != "lda"
                    else (
                        f"learned groups, G={n_groups}, {label}"  # the name of the first JSONs (LDA only)
                    )
                )
                summary[name] = {
                    t.name: {
                        cell: float(np.mean([f[label][t.name][cell] for f in mine]))
                        for cell in ("all", "cold_in_type")
                    }
                    for t in tasks
                }
    for name, by_type in models.items():
        print(
            name
            + ": "
            + ", ".join(f"{t} {c['all']:.3f} / {c['cold_in_type']:.3f}" for t, c in by_type.items())
        )
    for name, by_type in summary.items():
        print(
            name
            + ": "
            + ", ".join(f"{t} {c['all']:.3f} / {c['cold_in_type']:.3f}" for t, c in by_type.items())
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "data_dir": str(args.data_dir),
                "generator": read_manifest(cfg.raw_dir).generator,
                "metric": f"hr@{ec.k}",
                "max_iter": args.max_iter,
                "explore_share": EXPLORE_SHARE,
                "references": models,
                "true_groups": truth_fit,
                "fits": fits,
                "summary": summary,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
