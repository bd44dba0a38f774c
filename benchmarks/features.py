"""Benchmark the Feast feature store: online latency, historical retrieval, materialization.

    python benchmarks/features.py                                  # full sizes (a few minutes)
    python benchmarks/features.py --historical 100000 --materialize 200000   # quicker
    python benchmarks/features.py --out bench_results/features.json

Measures, on synthetic marts with the contract's columns (tests.fixtures.synthetic_marts):

- online retrieval latency (p50/p99 over ``--repeats`` calls, after warm-up) of every
  ``user_activity`` feature for 1 and for 100 users, on SQLite (local mode) and on Redis
  (scale_out mode: Redis online store, PostgreSQL registry; a private project, removed after);
- historical retrieval (``get_training_frame``, all four mart views, DuckDB offline store) for
  entity frames of 100k and 1M (user, item, time) rows;
- materialization of ``user_activity`` with one row per user (every row reaches the online store,
  checked on the last user) into SQLite and into Redis, at ``--materialize`` rows (1M by default).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the synthetic marts are test fixtures (tests/fixtures/)

from gfm.config import Config  # noqa: E402
from tests.fixtures.synthetic_marts import SyntheticMarts, write_synthetic_marts  # noqa: E402

END = datetime(2026, 10, 17, tzinfo=UTC)


def _quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


def _config(data_dir: Path, mode: str) -> Config:
    project = f"gfmbench_{uuid.uuid4().hex[:8]}"
    return Config(data_dir=data_dir, features={"mode": mode, "project": project})


def online_latency(cfg: Config, users: int, repeats: int) -> dict[str, float]:
    from feature_repo.store import get_store

    store = get_store(cfg)
    refs = [f"user_activity:{f.name}" for f in store.get_feature_view("user_activity").features]
    rng = np.random.default_rng(0)
    out: dict[str, float] = {}
    for n in (1, 100):
        times = []
        for i in range(repeats + 5):
            rows = [{"user_id": int(u)} for u in rng.integers(1, users + 1, n)]
            t0 = time.perf_counter()
            store.get_online_features(features=refs, entity_rows=rows).to_dict()
            if i >= 5:  # warm-up calls (registry load, connections) are not counted
                times.append((time.perf_counter() - t0) * 1000)
        out[f"p50_ms_{n}"] = float(np.percentile(times, 50))
        out[f"p99_ms_{n}"] = float(np.percentile(times, 99))
    return out


def historical(cfg: Config, spec: SyntheticMarts, rows: int) -> float:
    from feature_repo.store import get_training_frame

    rng = np.random.default_rng(1)
    seconds = rng.integers(0, spec.days * 86_400, rows)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(1, spec.users + 1, rows),
            "item_id": rng.integers(1, spec.items + 1, rows),
            "event_timestamp": pd.Timestamp(END) - pd.to_timedelta(seconds, unit="s"),
        }
    ).drop_duplicates(["user_id", "item_id", "event_timestamp"])
    t0 = time.perf_counter()
    with _quiet():
        out = get_training_frame(cfg, frame)
    elapsed = time.perf_counter() - t0
    assert len(out) == len(frame)
    return elapsed


def materialize_rate(root: Path, rows: int, mode: str) -> dict[str, float]:
    """Materialize ``rows`` rows of ``user_activity`` (one per user) into the mode's online store."""
    from feature_repo.store import apply_definitions, get_store, materialize, remove_project

    cfg = _config(root / f"materialize_{mode}", mode)
    write_synthetic_marts(cfg.marts_dir, SyntheticMarts(users=rows, items=100, days=1, end=END))
    try:
        with _quiet():
            apply_definitions(cfg)
            t0 = time.perf_counter()
            materialize(cfg, end=END + timedelta(seconds=1), feature_views=["user_activity"])
        seconds = time.perf_counter() - t0
        # every row reached the online store: the last user's features are there
        online = (
            get_store(cfg)
            .get_online_features(features=["user_activity:n_items_90d"], entity_rows=[{"user_id": rows}])
            .to_dict()
        )
        assert online["n_items_90d"][0] is not None, "the last row did not reach the online store"
    finally:
        if mode == "scale_out":
            with _quiet():
                remove_project(cfg)
    return {"rows": rows, "seconds": seconds, "seconds_per_1m_rows": seconds * 1_000_000 / rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="users in the latency/historical data")
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--historical", default="100000,1000000", help="entity-frame sizes")
    parser.add_argument(
        "--materialize", type=int, default=1_000_000, help="rows to materialize into each online store"
    )
    parser.add_argument("--no-redis", action="store_true", help="skip the scale-out (Redis/PostgreSQL) run")
    parser.add_argument("--out", type=Path, default=Path("bench_results/features.json"))
    args = parser.parse_args()

    from feature_repo.store import apply_definitions, materialize, remove_project

    results: dict[str, Any] = {"machine": platform.processor() or platform.machine(), "online": {}}
    spec = SyntheticMarts(users=args.users, items=args.items, days=args.days, end=END)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_synthetic_marts(root / "shared" / "marts", spec)
        modes = ["local"] if args.no_redis else ["local", "scale_out"]
        configs = {}
        for mode in modes:
            cfg = _config(root / "shared", mode)
            with _quiet():
                apply_definitions(cfg)
                materialize(cfg)
            configs[mode] = cfg
        try:
            for mode, cfg in configs.items():
                store = "sqlite" if mode == "local" else "redis"
                results["online"][store] = online_latency(cfg, args.users, args.repeats)
                print(f"online {store}: {results['online'][store]}", flush=True)
            results["historical_s"] = {}
            for size in (int(s) for s in args.historical.split(",") if s):
                results["historical_s"][str(size)] = historical(configs["local"], spec, size)
                print(f"historical {size}: {results['historical_s'][str(size)]:.1f} s", flush=True)
        finally:
            if "scale_out" in configs:
                with _quiet():
                    remove_project(configs["scale_out"])
        results["materialize"] = {}
        for mode in modes:
            store = "sqlite" if mode == "local" else "redis"
            results["materialize"][store] = materialize_rate(root, args.materialize, mode)
            print(f"materialize {store}: {results['materialize'][store]}", flush=True)
    _print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


def _print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Feast feature store")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for store, lat in results["online"].items():
        for n in (1, 100):
            table.add_row(
                f"online {store}, {n} entities: p50 / p99",
                f"{lat[f'p50_ms_{n}']:.1f} / {lat[f'p99_ms_{n}']:.1f} ms",
            )
    for size, seconds in results.get("historical_s", {}).items():
        table.add_row(f"historical retrieval, {int(size):,} entity rows", f"{seconds:.1f} s")
    for store, mat in results["materialize"].items():
        table.add_row(f"materialize into {store}, {mat['rows']:,} rows", f"{mat['seconds']:.1f} s")
    Console().print(table)


if __name__ == "__main__":
    main()
