"""``gfm run`` end to end at several multiples of the default size: time, CPU and memory per stage.

    python benchmarks/pipeline.py                          # 1x, 10x, 30x (hours on 2 cores)
    python benchmarks/pipeline.py --scales 1,3 --out benchmarks/results/pipeline.json

Each scale multiplies the synthetic generator's users, podcasts and audiobooks (``gfm generate``;
events grow with users) and runs the whole pipeline, in a child process of its own, into a fresh
data dir under ``--work``. Per stage it records wall time, CPU time (this process and its children,
such as dbt), peak RSS (the process tree, sampled every 0.2 s) and events per second. Between the
smallest and the largest scale it prints each stage's growth exponent, log(time ratio) / log(events
ratio): 1.0 is linear. It writes the JSON (``--out``) and a plot of time per stage against events
(``--plot``). Runs already in the JSON are kept and reused unless ``--rerun``, so a long ladder can
be built one scale at a time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# run as a script, this file's folder comes first on sys.path, where this file would hide the
# ``pipeline`` package: look in the repository instead
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))
BASE = {"users": 4000, "podcasts": 2500, "audiobooks": 1200}


class _Meter:
    """Samples the RSS of this process and its children; keeps the peak of the current stage."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # a child that just ended
                continue
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.2)

    def take_peak(self) -> int:
        peak, self.peak = max(self.peak, self._rss()), 0
        return peak

    def stop(self) -> None:
        self._stop.set()


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def child(scale: float, data_dir: Path, out: Path) -> None:
    """Run the pipeline once in this process and write its per-stage measurements to ``out``."""
    import pyarrow.parquet as pq

    import pipeline.run as run_mod
    from gfm.config import Config

    gen = {k: max(1, round(v * scale)) for k, v in BASE.items()}
    cfg = Config(data_dir=data_dir, generate=gen)
    meter = _Meter()
    marks: list[tuple[str, float, float]] = []
    peaks: list[int] = []

    def hook(name: str) -> None:
        if marks:
            peaks.append(meter.take_peak())
        marks.append((name, time.perf_counter(), _cpu()))

    # record the setup the run chose for this size (pipeline/setup_choice.py): above its pair
    # threshold a CPU run trains fewer epochs and skips the 2T retrain, which the figures reflect
    import pipeline.setup_choice as setup_mod

    chosen: list[dict[str, Any]] = []
    choose = setup_mod.choose_setup

    def recording_choose(*args: Any, **kwargs: Any) -> Any:
        new_cfg, choices = choose(*args, **kwargs)
        chosen.extend(c.to_dict() for c in choices)
        return new_cfg, choices

    setup_mod.choose_setup = recording_choose  # type: ignore[assignment]
    run_mod.STAGE_HOOK = hook
    t0 = time.perf_counter()
    result = run_mod.run_pipeline(cfg)
    marks.append(("end", time.perf_counter(), _cpu()))
    peaks.append(meter.take_peak())
    meter.stop()
    events = sum(
        pq.ParquetFile(p).metadata.num_rows for p in (data_dir / "raw" / "interactions").rglob("*.parquet")
    )
    stages = []
    for (name, wall, cpu), (_, wall_next, cpu_next), peak in zip(marks[:-1], marks[1:], peaks, strict=True):
        seconds = wall_next - wall
        stages.append(
            {
                "stage": name,
                "wall_s": seconds,
                "cpu_s": cpu_next - cpu,
                "peak_rss_mb": peak / 2**20,
                "events_per_s": events / seconds if seconds > 0 else None,
            }
        )
    out.write_text(
        json.dumps(
            {
                "scale": scale,
                "generate": gen,
                "events": events,
                "version": result.version,
                "status": result.status,
                "setup_choices": chosen,
                "total_s": time.perf_counter() - t0,
                "stages": stages,
            },
            indent=2,
        )
    )


def growth(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Each stage's growth exponent between the smallest and the largest run (by events)."""
    if len(runs) < 2:
        return {}
    lo, hi = min(runs, key=lambda r: r["events"]), max(runs, key=lambda r: r["events"])
    ratio = math.log(hi["events"] / lo["events"])
    lo_t = {s["stage"]: s["wall_s"] for s in lo["stages"]}
    out = {}
    for s in hi["stages"]:
        if s["stage"] in lo_t and lo_t[s["stage"]] > 0 and s["wall_s"] > 0:
            out[s["stage"]] = math.log(s["wall_s"] / lo_t[s["stage"]]) / ratio
    out["total"] = math.log(hi["total_s"] / lo["total_s"]) / ratio
    return out


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Log-log plot of wall time per stage against events."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted(runs, key=lambda r: r["events"])
    fig, ax = plt.subplots(figsize=(8, 5))
    for stage in [s["stage"] for s in runs[-1]["stages"]]:
        xs = [r["events"] for r in runs for s in r["stages"] if s["stage"] == stage]
        ys = [s["wall_s"] for r in runs for s in r["stages"] if s["stage"] == stage]
        ax.plot(xs, ys, marker="o", label=stage)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("raw events")
    ax.set_ylabel("wall time (s)")
    ax.set_title("gfm run: time per stage (benchmarks/pipeline.py)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _table(runs: list[dict[str, Any]], exps: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = sorted(runs, key=lambda r: r["events"])
    table = Table(title="gfm run per stage: wall s / CPU s / peak RSS MB")
    table.add_column("stage")
    for r in runs:
        table.add_column(f"{r['scale']:g}x ({r['events']:,} events)", justify="right")
    table.add_column("growth", justify="right")
    for stage in [s["stage"] for s in runs[-1]["stages"]]:
        cells = []
        for r in runs:
            s = next((s for s in r["stages"] if s["stage"] == stage), None)
            cells.append(
                "" if s is None else f"{s['wall_s']:.0f} / {s['cpu_s']:.0f} / {s['peak_rss_mb']:.0f}"
            )
        exp = exps.get(stage)
        table.add_row(stage, *cells, "" if exp is None else f"{exp:.2f}")
    table.add_row("total", *[f"{r['total_s']:.0f}" for r in runs], f"{exps.get('total', float('nan')):.2f}")
    Console().print(table)
    for r in runs:  # a run above the large-data threshold trains less: its exponents say so
        for c in r.get("setup_choices", []):
            print(f"{r['scale']:g}x chose {c['setting']} = {c['value']} ({c['why']})")
    if any(r.get("setup_choices") for r in runs):
        print("growth of the training and evaluation stages compares runs with different settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,30", help="multiples of the default users/items")
    parser.add_argument("--work", type=Path, default=Path(".gfm/bench_pipeline"), help="data dirs root")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/pipeline.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/scale_pipeline.png"))
    parser.add_argument("--rerun", action="store_true", help="rerun scales already in --out")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.work, args.child_out)
        return

    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    runs = {float(r["scale"]): r for r in previous.get("runs", [])}
    for scale in (float(s) for s in args.scales.split(",") if s):
        if scale in runs and not args.rerun:
            print(f"{scale:g}x: kept from {args.out}")
            continue
        data_dir = args.work / f"scale_{scale:g}"
        if data_dir.exists():
            subprocess.run(["rm", "-rf", str(data_dir)], check=True)
        child_out = args.work / f"scale_{scale:g}.json"
        child_out.parent.mkdir(parents=True, exist_ok=True)
        print(f"{scale:g}x: gfm run into {data_dir}", flush=True)
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(scale),
            "--work",
            str(data_dir),
            "--child-out",
            str(child_out),
        ]
        subprocess.run(cmd, check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        runs[scale] = json.loads(child_out.read_text())
        exps = growth(list(runs.values()))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                    "runs": sorted(runs.values(), key=lambda r: r["scale"]),
                    "growth_exponent": exps,
                },
                indent=2,
            )
            + "\n"
        )
    all_runs = list(runs.values())
    exps = growth(all_runs)
    _table(all_runs, exps)
    if len(all_runs) >= 2:
        plot(all_runs, args.plot)
        print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
