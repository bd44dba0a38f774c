"""Benchmark the data layer: generate -> transform (raw gate, dbt build, marts gate, promote).

Runs each scale in a fresh interpreter (so one scale's memory does not inflate the next) and
samples the resident memory of that interpreter plus its children (the dbt subprocess) every
50 ms. Prints one row per stage and scale, and writes the rows as JSON.

    python benchmarks/data_layer.py                       # scales 0.1, 1, 10 (400 / 4k / 40k users)
    python benchmarks/data_layer.py --scales 0.1,1 --out bench_results/data_layer.json

A scale multiplies the default sizes of GenerateConfig (4000 users, 2500 podcasts, 1200
audiobooks). rows/s divides the stage's input rows (raw interaction events; for generate, every
raw row written) by its wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import platform
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]


class PeakMemory:
    """Samples RSS of this process and all its children in a background thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a child may exit between the two calls
                    total += proc.memory_info().rss
            self.samples.append((time.perf_counter(), total))
            self._stop.wait(self.interval)

    def peak_mb(self, start: float, end: float) -> float:
        inside = [rss for t, rss in self.samples if start <= t <= end]
        return round(max(inside, default=0) / 2**20, 1)


def run_scale(scale: float, data_dir: str) -> list[dict[str, Any]]:
    """Generate and transform one scale in ``data_dir``; one row per stage."""
    from gfm.config import Config
    from ingest.generate import generate
    from warehouse import run_transform

    base = Config().generate
    sizes = {
        "users": max(1, round(base.users * scale)),
        "podcasts": max(1, round(base.podcasts * scale)),
        "audiobooks": max(1, round(base.audiobooks * scale)),
    }
    cfg = Config(data_dir=Path(data_dir), generate=base.model_copy(update=sizes))
    rows: list[dict[str, Any]] = []
    with PeakMemory() as memory:
        t0 = time.perf_counter()
        counts = generate(cfg.generate, cfg.raw_dir, show_progress=False)
        t1 = time.perf_counter()
        n_raw = int(sum(counts.values()))
        rows.append(_row("generate", scale, sizes, t1 - t0, n_raw, memory.peak_mb(t0, t1)))
        result = run_transform(cfg, show_progress=False)
        t2 = time.perf_counter()
    events = int(result.landing_counts["interactions"])
    cursor = t1
    for stage, wall in result.timings.items():
        rows.append(_row(stage, scale, sizes, wall, events, memory.peak_mb(cursor, cursor + wall)))
        cursor += wall
    rows.append(_row("transform_total", scale, sizes, t2 - t1, events, memory.peak_mb(t1, t2)))
    for row in rows:
        row["mart_rows"] = result.row_counts
        row["raw_rows"] = counts
    return rows


def _row(
    stage: str, scale: float, sizes: dict[str, int], wall: float, n_rows: int, peak: float
) -> dict[str, Any]:
    return {
        "stage": stage,
        "scale": scale,
        **sizes,
        "wall_s": round(wall, 2),
        "rows": n_rows,
        "rows_per_s": round(n_rows / wall) if wall > 0 else None,
        "peak_rss_mb": peak,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="data layer benchmark")
    for column in ("stage", "scale", "users", "items", "rows", "wall s", "rows/s", "peak RSS MB"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for r in rows:
        table.add_row(
            r["stage"], f"{r['scale']:g}", f"{r['users']:,}", f"{r['podcasts'] + r['audiobooks']:,}",
            f"{r['rows']:,}", f"{r['wall_s']:.2f}", f"{r['rows_per_s']:,}" if r["rows_per_s"] else "-",
            f"{r['peak_rss_mb']:,.0f}",
        )  # fmt: skip
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scales", default="0.1,1,10", help="comma-separated multipliers of the default sizes"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results" / "data_layer.json")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep each scale's data dir under this folder"
    )
    parser.add_argument("--merge", action="store_true", help="keep the other scales' rows already in --out")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    rows: list[dict[str, Any]] = []
    spawn = mp.get_context("spawn")  # a fresh interpreter per scale: clean memory peaks
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix=f"gfm-bench-{scale:g}-") as tmp:
            data_dir = str(args.keep / f"scale-{scale:g}") if args.keep else tmp
            with spawn.Pool(1) as pool:
                rows.extend(pool.apply(run_scale, (scale, data_dir)))
                pool.close()
                pool.join()
        print_table([r for r in rows if r["scale"] == scale])
    if args.merge and args.out.exists():
        earlier = json.loads(args.out.read_text(encoding="utf-8"))["rows"]
        rows = sorted([r for r in earlier if r["scale"] not in scales] + rows, key=lambda r: r["scale"])
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "data_layer",
        "machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "python": platform.python_version()},
        "rows": rows,
    }  # fmt: skip
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
