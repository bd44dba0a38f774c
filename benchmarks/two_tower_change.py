"""One two-tower change at a time, paired by seed: on (the config's value) against off (issue 9).

    python benchmarks/two_tower_change.py --change hgnn_as_of --data-dir DIR --seeds 1 2 3 \\
        --out benchmarks/results/hgnn_as_of_topics.json
    python benchmarks/two_tower_change.py --change batch_days --data-dir DIR --seeds 1 2 3 \\
        --out benchmarks/results/batch_days_topics.json

``--change`` names the ``two_tower`` setting flipped; ``CHANGES`` holds its off value, the config
(environment included) its on value. Each seed
trains 2T and 2T-HGNN with the change on and off on the same HGNN export and scores them with
the evaluation protocol in one report (below). Before the two changes:

``hgnn_as_of``: every two-tower training example saw its item's HGNN vector made from the whole
training window's co-consumption edges, even when the example came before the item had any
co-consumer. At serving time a fresh item has no edge and gets the HGNN's *isolated* vector (its
own features only), a vector the model had never seen on a positive, and new items scored 0.000
HR@10. On: an example dated before its item could have had an edge sees the isolated vector
(``embedding_jobs/data/graph_entry.py``).

``horizon_days`` (set the on value, e.g. ``GFM__TWO_TOWER__HORIZON_DAYS=14``; measured with
``batch_days`` 1): every example was seen as of its own consumption. On: as of a moment up to
that many days before it, the question served vectors answer (``embedding_jobs/data/horizon.py``).

``val_protocol`` (set the on value, ``GFM__TWO_TOWER__VAL_PROTOCOL=window``): the epoch count was
chosen by ranking each validation example's item for its user as of that example, a next-item
question whose histories include the slice's earlier consumption. On: every user is encoded once as
of the slice's start and HR@k is counted per user and type over the slice, the evaluation's own
question (``embedding_jobs/two_tower_validation.py``).

``history_vectors`` (set the on value, ``GFM__TWO_TOWER__HISTORY_VECTORS=hgnn``): a user's
history is summarised per type by the mean text and HGNN vectors of their items. On: by the HGNN
vectors alone, as in arXiv 2403.07478 (the user tower then reads no item text beside them).

``patience`` (set the on value, e.g. ``GFM__TWO_TOWER__PATIENCE=0``): the selection run
stopped after 5 epochs without a better validation recall. On: another patience (0 trains every
epoch and picks the best), the question whether the curves' late climb is cut off.

``graph_export_days`` (set the on value, e.g. ``GFM__TWO_TOWER__GRAPH_EXPORT_DAYS=14``): an
example saw its item's isolated HGNN vector only before the item could have had an edge. On: also
when the item entered the graph since the last export on a calendar of that many days, as a served
version keeps serving items that gathered co-consumers since its export (``graph_entry.py``).

``hgnn`` (``--hgnn-version`` on, ``--off-hgnn-version`` off): two HGNN exports under the same
two-tower settings, e.g. an HGNN trained longer on the GPU against the pipeline's.

``batch_days``: batches were drawn across the whole window, so an example was contrasted with
items as they were on other days, and the logQ correction was one frequency per item. On: batches
of the same day, logQ per day (``embedding_jobs/data/batches.py``).

``catalogue_negatives`` (with ``batch_days`` > 0; set both on values, e.g.
``GFM__TWO_TOWER__BATCH_DAYS=1 GFM__TWO_TOWER__CATALOGUE_NEGATIVES=1024``): a same-day batch's
negatives were the items consumed that day. On: as many items again drawn uniformly from the
catalogue as it was that day join them (``embedding_jobs/two_tower_negatives.py``).

``softmax_within_type`` (set the on value, ``GFM__TWO_TOWER__SOFTMAX_WITHIN_TYPE=true``): every
example's softmax ran over the batch's columns of every content type. On: over its own item's type
only (``embedding_jobs/models/two_tower.py``, ``InBatchSoftmaxTask``).

``item_ids`` (set the on value, ``GFM__TWO_TOWER__ITEM_IDS=true``): the item tower saw an item
only through its features and frozen vectors. On: a learned vector per item with training
consumptions is added to its output (``embedding_jobs/models/two_tower.py``, ``ItemTower``).

``history_ids`` (set the on value and item IDs for both arms, ``GFM__TWO_TOWER__HISTORY_IDS=true
GFM__TWO_TOWER__ITEM_IDS=true``): the user tower saw only
its history's features and frozen vectors. On: it adds the mean ID vector of the history's items,
from the item tower's table (``UserTower``).

The report holds, beside the runs, Popularity, text-kNN, HGNN-kNN and item-kNN (LightGCN is left
out: it is not what is measured, and costs minutes on the CPU). ``DIR`` needs what ``gfm run`` leaves: marts,
Feast applied and materialized, text features and an HGNN export, with ``isolated_items.parquet``
(written when ``two_tower.hgnn_as_of`` is on, the default since round 14). Prints HR@10 per model and content type (all / cold in type /
new-item tier) as mean ± sd and the paired difference on - off; ``--out`` keeps every value.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, NamedTuple

from embedding_jobs.device import machine_facts
from embedding_jobs.evaluate.run import evaluate
from embedding_jobs.train_two_tower import train_two_tower
from gfm.config import Config
from gfm.naming import export_path
from gfm.versioning import latest_version, new_version

#: the setting flipped, its value when off (on is the config default), and what 2T does
CHANGES: dict[str, tuple[Any, bool]] = {
    "hgnn_as_of": (False, False),  # 2T has no HGNN input: the change cannot touch it
    "batch_days": (0.0, True),
    "catalogue_negatives": (0, True),
    "softmax_within_type": (False, True),
    "horizon_days": (0.0, True),
    "hgnn_skip": (False, False),  # 2T has no HGNN input: the change cannot touch it
    "skip_start_scale": (1.0, False),  # only with the skip path, which 2T does not have
    "val_protocol": ("example", True),
    "history_vectors": ("text_hgnn", False),  # only with HGNN inputs, which 2T does not have
    "item_ids": (False, True),
    "patience": (5, True),
    "graph_export_days": (0.0, False),  # only with isolated HGNN vectors, which 2T does not have
    "history_ids": (False, True),  # without item_ids no effect: set item_ids for both arms
    "hgnn": (None, False),  # not a setting: the HGNN export (on --hgnn-version, off --off-hgnn-version)
}
CELLS = ("all", "cold_in_type", "new")


class Run(NamedTuple):
    """One two-tower training of a seed: its report name, HGNN inputs, setting update, side."""

    name: str
    use_hgnn: bool
    setting: dict[str, Any]
    off: bool


def runs_of(change: str) -> list[Run]:
    """Every run of one seed; 2T-HGNN and 2T with the change on come first."""
    off, touches_2t = CHANGES[change]
    flip = {} if change == "hgnn" else {change: off}
    out = [
        Run("2T", False, {}, False),
        Run("2T-HGNN", True, {}, False),
        Run(f"2T-HGNN ({change} off)", True, flip, True),
    ]
    if touches_2t:
        out.append(Run(f"2T ({change} off)", False, {change: off}, True))
    return out


def run_seed(
    cfg: Config, change: str, seed: int, hgnn_version: str, metric: str, off_hgnn: str | None = None
) -> dict[str, Any]:
    """Train the two-tower runs of one seed and evaluate them in one report.

    ``off_hgnn``: the HGNN export of the "off" runs (``--change hgnn``); ``hgnn_version`` otherwise.
    """
    versions: dict[str, str] = {}
    epochs: dict[str, Any] = {}
    for run in runs_of(change):
        update = {"seed": seed, "use_hgnn": run.use_hgnn, **run.setting}
        run_cfg = cfg.model_copy(update={"two_tower": cfg.two_tower.model_copy(update=update)})
        version = new_version(f"{change}-{run.name}-{seed}")
        hgnn = (off_hgnn if off_hgnn and run.off else hgnn_version) if run.use_hgnn else None
        result = train_two_tower(run_cfg, version, hgnn, role="ablation")
        versions[run.name], epochs[run.name] = version, result.metrics.get("epochs")
        print(f"  {run.name}: {version}, {epochs[run.name]} epochs", flush=True)
    path = evaluate(
        cfg.model_copy(update={"evaluate": cfg.evaluate.model_copy(update={"lightgcn": False})}),
        hgnn_version=hgnn_version,
        two_tower_version=versions["2T-HGNN"],
        baseline_two_tower_version=versions["2T"],
        ablation_versions={n: v for n, v in versions.items() if n not in ("2T", "2T-HGNN")},
    )
    report = json.loads(path.read_text())
    hr: dict[str, dict[str, dict[str, float | None]]] = {}
    for model, body in report["models"].items():
        for ctype, cell in body["by_type"].items():
            hr.setdefault(model, {})[ctype] = {
                "all": cell[metric],
                "cold_in_type": cell["cold_in_type"][metric],
                "new": cell["tiers"]["new"][metric],
            }
    sizes = {
        ctype: {"cold_in_type": cell["cold_in_type"]["n_users"], "new": cell["tiers"]["new"]["n_users"]}
        for ctype, cell in report["models"]["2T-HGNN"]["by_type"].items()
    }
    return {
        "seed": seed,
        "report": str(path),
        "versions": versions,
        "epochs": epochs,
        "hr": hr,
        "sizes": sizes,
    }


def summarise(runs: list[dict[str, Any]], change: str) -> dict[str, Any]:
    """Mean ± sd per model, type and cell; the paired differences on - off."""
    out: dict[str, Any] = {"hr": {}, "on_minus_off": {}}
    for model, by_type in runs[0]["hr"].items():
        for ctype, cells in by_type.items():
            for cell in cells:
                values = [r["hr"][model][ctype][cell] for r in runs]
                if None not in values:
                    out["hr"].setdefault(model, {}).setdefault(ctype, {})[cell] = _stats(values)
    for model in ("2T", "2T-HGNN"):
        off = f"{model} ({change} off)"
        if off not in runs[0]["hr"]:
            continue
        for ctype, cells in runs[0]["hr"][model].items():
            for cell in cells:
                pairs = [(r["hr"][model][ctype][cell], r["hr"][off][ctype][cell]) for r in runs]
                if all(a is not None and b is not None for a, b in pairs):
                    diffs = [a - b for a, b in pairs]
                    out["on_minus_off"].setdefault(model, {}).setdefault(ctype, {})[cell] = _stats(diffs)
    return out


def _stats(values: list[float]) -> dict[str, Any]:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "sd": sd, "values": values}


def print_tables(summary: dict[str, Any], n_seeds: int, metric: str) -> None:
    """HR per model and type (all / cold in type / new tier) and the paired differences."""
    types = sorted({t for body in summary["hr"].values() for t in body})
    print(f"\n{metric}, mean ± sd over {n_seeds} seed(s); per type: " + " / ".join(CELLS))
    print(f"{'model':<28}" + "".join(f"{t:<40}" for t in types))
    for model, body in summary["hr"].items():
        cells = [
            " / ".join(
                f"{body[t][c]['mean']:.3f}±{body[t][c]['sd']:.3f}" for c in CELLS if c in body.get(t, {})
            )
            for t in types
        ]
        print(f"{model:<28}" + "".join(f"{c:<40}" for c in cells))
    for model, diff in summary["on_minus_off"].items():
        cells = [
            " / ".join(f"{diff[t][c]['mean']:+.3f}" for c in CELLS if c in diff.get(t, {})) for t in types
        ]
        print(f"{model + ' on - off':<28}" + "".join(f"{c:<40}" for c in cells))


def merge(paths: list[Path], change: str, out: Path | None) -> None:
    """Join the runs of several ``--out`` files into one payload with its summary, and print it."""
    parts = [json.loads(p.read_text()) for p in paths]
    # runs of another machine round differently (embedding_jobs.device.machine_facts): not paired
    for key in ("change", "data_dir", "hgnn_version", "off_hgnn_version", "metric", "two_tower", "machine"):
        if len({json.dumps(part.get(key), sort_keys=True) for part in parts}) > 1:
            raise SystemExit(f"cannot merge: the files differ in {key!r}")
    if parts[0]["change"] != change:
        raise SystemExit(f"the files measure {parts[0]['change']!r}, not {change!r}")
    runs = sorted((r for part in parts for r in part["runs"]), key=lambda r: r["seed"])
    seeds = [r["seed"] for r in runs]
    if len(set(seeds)) < len(seeds):
        raise SystemExit(f"cannot merge: a seed appears twice ({seeds})")
    payload = {**parts[0], "seeds": seeds, "runs": runs, "summary": summarise(runs, change)}
    payload["merged_from"] = [str(p) for p in paths]
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=2) + "\n")
    print_tables(payload["summary"], len(runs), payload["metric"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--change", choices=sorted(CHANGES), required=True, help="the two_tower setting flipped"
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".gfm"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--hgnn-version", default=None, help="HGNN export to use (default: the latest)")
    parser.add_argument(
        "--off-hgnn-version", default=None, help="with --change hgnn: the HGNN export of the off runs"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write per-seed values and the summary as JSON"
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="instead of training: join earlier --out files of the same change, data and HGNN "
        "export (disjoint seeds, e.g. a run stopped after two seeds and one of the rest) into --out",
    )
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.change, args.out)
        return
    cfg = Config.load(data_dir=args.data_dir)
    metric = f"hr@{cfg.evaluate.k}"
    hgnn_version = args.hgnn_version or latest_version(cfg.embeddings_dir / "hgnn")
    if hgnn_version is None:
        parser.error(f"no HGNN export under {cfg.embeddings_dir / 'hgnn'}: run `gfm train hgnn` first")
    if args.change == "hgnn" and not args.off_hgnn_version:
        parser.error("--change hgnn compares two HGNN exports: give --off-hgnn-version")
    on, off = getattr(cfg.two_tower, args.change, True), CHANGES[args.change][0]
    if on == off:
        parser.error(
            f"two_tower.{args.change} is {on!r}, its off value: set the on value in the environment, "
            f"e.g. GFM__TWO_TOWER__{args.change.upper()}=14"
        )
    isolated = export_path(cfg.embeddings_dir, "hgnn", hgnn_version, "isolated_item")
    if args.change == "hgnn_as_of" and not isolated.exists():
        parser.error(
            f"HGNN {hgnn_version} has no isolated vectors: retrain it with "
            "GFM__TWO_TOWER__HGNN_AS_OF=true gfm train hgnn"
        )
    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        start = time.perf_counter()
        print(f"seed {seed}", flush=True)
        runs.append(run_seed(cfg, args.change, seed, hgnn_version, metric, args.off_hgnn_version))
        runs[-1]["seconds"] = time.perf_counter() - start
        print(f"seed {seed}: {runs[-1]['report']} ({runs[-1]['seconds']:.0f} s)", flush=True)
        if args.out:  # after every seed, so a run that is stopped keeps what it measured
            args.out.parent.mkdir(parents=True, exist_ok=True)
            payload = {
                "change": args.change,
                "data_dir": str(args.data_dir),
                "hgnn_version": hgnn_version,
                "off_hgnn_version": args.off_hgnn_version,
                "seeds": [r["seed"] for r in runs],
                "metric": metric,
                "two_tower": cfg.two_tower.model_dump(mode="json"),  # the "on" runs' settings
                "machine": machine_facts(),
                "runs": runs,
                "summary": summarise(runs, args.change),
            }
            args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print_tables(summarise(runs, args.change), len(runs), metric)


if __name__ == "__main__":
    main()
