"""Model quality over several training seeds: the evaluation table with its spread.

    python benchmarks/quality.py --data-dir .gfm --seeds 1 2 3 --out bench_results/quality.json

It needs a data directory that ``gfm run`` (or the stages up to ``gfm train text``) has filled:
marts, the Feast repo and the text features. For every seed it trains an HGNN, a 2T-HGNN on it,
a 2T baseline (no HGNN inputs) and, with ``--ablation``, a 2T-HGNN on an HGNN trained without
the multi-link sampler, then evaluates them all with the seed protocol
(``embedding_jobs.evaluate``). Only model seeds change between runs: the data and the split are
fixed, so the spread is the training noise that any single-run comparison carries.

Prints HR@10 (all / warm / cold) per model and content type as mean ± standard deviation over
the seeds and writes every per-seed report path and value as JSON. Config overrides come from
``GFM__SECTION__FIELD`` environment variables, as for ``gfm``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from embedding_jobs.evaluate.run import evaluate_version
from embedding_jobs.train_hgnn import train_hgnn
from embedding_jobs.train_two_tower import train_two_tower
from gfm.config import Config
from gfm.versioning import new_version

SEGMENTS = ("all", "warm", "cold")


def run_seed(cfg: Config, seed: int, ablation: bool) -> dict[str, Any]:
    """Train every model for one seed and evaluate them; returns the report's models.

    The HGNN and 2T-HGNN are trained here with the seed, and so is the 2T baseline. The ablation,
    when asked for, is trained by ``evaluate_version`` as in ``gfm evaluate``.
    """
    hc = cfg.hgnn.model_copy(update={"seed": seed})
    tc = cfg.two_tower.model_copy(update={"seed": seed})
    seeded = cfg.model_copy(update={"hgnn": hc, "two_tower": tc})
    hgnn = train_hgnn(seeded, new_version(f"quality-hgnn-{seed}")).version
    main = new_version(f"quality-2t-hgnn-{seed}")
    train_two_tower(seeded, main, hgnn, role="ablation")
    baseline = new_version(f"quality-2t-{seed}")
    no_hgnn = seeded.model_copy(update={"two_tower": tc.model_copy(update={"use_hgnn": False})})
    train_two_tower(no_hgnn, baseline, None, role="baseline")
    path = evaluate_version(seeded, main, baseline_version=baseline, train_missing=ablation)
    report = json.loads(path.read_text())
    return {"report": str(path), "models": report["models"]}


def _cell(models: dict[str, Any], model: str, ctype: str, segment: str, metric: str) -> float | None:
    body = models.get(model, {})
    cell = body.get("by_type", {}) if segment == "all" else body.get("by_segment", {}).get(segment, {})
    value = cell.get(ctype, {}).get(metric)
    return None if value is None else float(value)


def summarise(runs: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Mean and standard deviation of every (model, type, segment) cell over the seeds."""
    first = runs[0]["models"]
    types = sorted({t for body in first.values() for t in body["by_type"]})
    out: dict[str, Any] = {}
    for model in first:
        for ctype in types:
            for segment in SEGMENTS:
                values = [
                    v for r in runs if (v := _cell(r["models"], model, ctype, segment, metric)) is not None
                ]
                if values:
                    sd = statistics.stdev(values) if len(values) > 1 else 0.0
                    out.setdefault(model, {}).setdefault(ctype, {})[segment] = {
                        "mean": statistics.fmean(values),
                        "sd": sd,
                        "values": values,
                    }
    return out


def print_table(summary: dict[str, Any], metric: str, n_seeds: int) -> None:
    """One row per model; per type, all / warm / cold as mean ± sd."""
    types = sorted({t for body in summary.values() for t in body})
    print(f"\n{metric}, mean ± sd over {n_seeds} seed(s); per type: all / warm / cold")
    print(f"{'model':<34}" + "".join(f"{t:<44}" for t in types))
    for model, body in summary.items():
        cells = []
        for t in types:
            parts = [
                f"{body[t][s]['mean']:.3f}±{body[t][s]['sd']:.3f}" for s in SEGMENTS if s in body.get(t, {})
            ]
            cells.append(f"{' / '.join(parts):<44}")
        print(f"{model:<34}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".gfm"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--ablation", action="store_true", help="also train the no-multi-link-sampler ablation"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write the per-seed values and summary as JSON"
    )
    args = parser.parse_args()

    cfg = Config.load(data_dir=args.data_dir)
    metric = f"hr@{cfg.evaluate.k}"
    runs = []
    for seed in args.seeds:
        start = time.perf_counter()
        runs.append(run_seed(cfg, seed, args.ablation))
        print(f"seed {seed}: {runs[-1]['report']} ({time.perf_counter() - start:.0f} s)", flush=True)
    summary = summarise(runs, metric)
    print_table(summary, metric, len(runs))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"seeds": args.seeds, "metric": metric, "runs": runs, "summary": summary}
        payload["config"] = {"hgnn": cfg.hgnn.model_dump(), "two_tower": cfg.two_tower.model_dump()}
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
