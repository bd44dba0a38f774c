"""Training and inference throughput of the embedding jobs; prints a table and writes JSON.

    python benchmarks/training.py                     # default scale, on CUDA if present
    python benchmarks/training.py --scale 100 --batch-size 4096 --out bench.json

Scale 1 is the default synthetic catalogue: 3,750 items (1/3 audiobooks, 2/3 podcasts) and
87,000 directed edges (43,500 co-consumption pairs) over 384-d features, so scale 100 is the
issue's "10% of paper scale" (375k items, 8.7M directed edges) and scale 1000 is paper scale.
Measured: HGNN training (positive link edges/s and sampled message edges/s), layer-wise inference
over every item (items/s), and the text encoder (items/s). The two-tower throughput plugs in
through ``bench_two_tower`` (the hook below).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.graph import HeteroGraph, graph_from_frames
from embedding_jobs.device import describe_device, resolve_device
from embedding_jobs.train_hgnn import fit_hgnn
from gfm.config import HGNNConfig

Row = dict[str, Any]
ITEMS_PER_SCALE = 3_750
PAIRS_PER_SCALE = 43_500
TOPICS_PER_SCALE = 12


def synthetic_graph(scale: float, dim: int = 384, seed: int = 0) -> HeteroGraph:
    """A topic-structured two-type item graph with random unit features (no I/O)."""
    rng = np.random.default_rng(seed)
    n = int(ITEMS_PER_SCALE * scale)
    n_pairs = int(PAIRS_PER_SCALE * scale)
    n_topics = max(int(TOPICS_PER_SCALE * scale), 2)
    topic = rng.integers(0, n_topics, size=n)
    types = np.where(rng.random(n) < 1 / 3, "audiobook", "podcast")
    items = pd.DataFrame({"item_id": np.arange(n, dtype=np.int64), "content_type": types})
    by_topic = np.argsort(topic, kind="stable")
    start = np.searchsorted(topic[by_topic], np.arange(n_topics))
    size = np.bincount(topic, minlength=n_topics)
    src = rng.integers(0, n, size=n_pairs)
    same = rng.random(n_pairs) < 0.9  # mostly within a topic, some noise across topics
    offset = (rng.random(n_pairs) * size[topic[src]]).astype(np.int64)
    dst = np.where(same, by_topic[start[topic[src]] + offset], rng.integers(0, n, size=n_pairs))
    edges = pd.DataFrame({"src_item_id": src, "dst_item_id": dst})
    centroids = rng.standard_normal((n_topics, dim)).astype(np.float32)
    feats = centroids[topic] * 0.5 + rng.standard_normal((n, dim)).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    return graph_from_frames(items, edges, (np.arange(n, dtype=np.int64), feats))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_hgnn(graph: HeteroGraph, hcfg: HGNNConfig, device: torch.device, steps: int) -> list[Row]:
    """HGNN training throughput and layer-wise inference over every item."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    fit_hgnn(graph, hcfg, device, show_progress=False, max_steps=2)  # warm-up (kernels, allocator)
    model, stats = fit_hgnn(graph, hcfg, device, show_progress=False, max_steps=steps)
    directed = sum(int(c.indices.numel()) for c in graph.csr.values())
    n_items = sum(graph.num_nodes.values())
    _sync(device)
    start = time.perf_counter()
    model.inference(graph.csr, graph.num_nodes, graph.features, device=device)
    _sync(device)
    infer_s = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    step_s = stats.seconds / max(stats.steps, 1)
    return [
        {
            "benchmark": "hgnn train",
            "value": stats.train_edges / stats.seconds,
            "unit": "link edges/s",
            "detail": f"{stats.steps} steps of {hcfg.batch_size} pairs x {hcfg.negatives} negatives, "
            f"{step_s * 1000:.1f} ms/step",
        },
        {
            "benchmark": "hgnn train (messages)",
            "value": stats.sampled_edges / stats.seconds,
            "unit": "sampled edges/s",
            "detail": f"fanouts {hcfg.fanouts}, {directed:,} directed edges in graph",
        },
        {
            "benchmark": "hgnn epoch (all pairs)",
            "value": graph.num_edges / (stats.train_edges / stats.seconds),
            "unit": "s",
            "detail": f"{graph.num_edges:,} pairs at the measured rate",
        },
        {
            "benchmark": "hgnn inference",
            "value": n_items / infer_s,
            "unit": "items/s",
            "detail": f"{n_items:,} items, full neighbourhoods, {infer_s:.2f} s"
            + (f"; peak GPU memory {peak:.1f} GiB" if peak is not None else ""),
        },
    ]


def bench_text(n_items: int, device: torch.device, batch_size: int = 64) -> list[Row]:
    """Text-encoder throughput (the packaged MiniLM), on synthetic titles + descriptions."""
    from embedding_jobs.text_features import TextEncoder, default_model_path
    from gfm.errors import NotFoundError

    try:
        model_path = default_model_path()
    except NotFoundError as exc:  # e.g. a GPU machine without the packaged model
        print(f"text features skipped: {exc}")
        return []
    encoder = TextEncoder(model_path, device=str(device))
    words = [
        "detective",
        "galaxy",
        "recipe",
        "empire",
        "podcast",
        "audiobook",
        "history",
        "science",
        "kitchen",
        "crime",
    ]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, size=24)) for _ in range(n_items)]
    encoder.encode(texts[:batch_size])  # warm-up
    _sync(device)
    start = time.perf_counter()
    for lo in range(0, n_items, batch_size):
        encoder.encode(texts[lo : lo + batch_size])
    _sync(device)
    seconds = time.perf_counter() - start
    return [
        {
            "benchmark": "text features",
            "value": n_items / seconds,
            "unit": "items/s",
            "detail": f"{n_items} texts of ~30 tokens, batch {batch_size}",
        }
    ]


def bench_two_tower(args: argparse.Namespace, device: torch.device) -> list[Row]:
    """HOOK for the two-tower throughput (examples/s); the two-tower job fills this in."""
    return []


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="graph size multiplier (100 = 10%% of paper)"
    )
    parser.add_argument("--steps", type=int, default=20, help="timed HGNN training steps")
    parser.add_argument("--batch-size", type=int, default=HGNNConfig().batch_size)
    parser.add_argument("--fanouts", type=int, nargs="+", default=HGNNConfig().fanouts)
    parser.add_argument("--text-items", type=int, default=512, help="texts to embed (0 skips)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device: {describe_device(device)}; torch {torch.__version__}")
    start = time.perf_counter()
    graph = synthetic_graph(args.scale)
    build_s = time.perf_counter() - start
    directed = sum(int(c.indices.numel()) for c in graph.csr.values())
    print(f"graph: {sum(graph.num_nodes.values()):,} items, {directed:,} directed edges ({build_s:.1f} s)")
    hcfg = HGNNConfig(batch_size=args.batch_size, fanouts=args.fanouts, epochs=10**6)
    rows = bench_hgnn(graph, hcfg, device, args.steps)
    if args.text_items:
        rows += bench_text(args.text_items, device)
    rows += bench_two_tower(args, device)

    print(f"\n{'benchmark':<24} {'value':>14}  {'unit':<16} detail")
    for row in rows:
        print(f"{row['benchmark']:<24} {row['value']:>14,.1f}  {row['unit']:<16} {row['detail']}")
    if args.out:
        payload = {
            "device": describe_device(device),
            "torch": torch.__version__,
            "scale": args.scale,
            "n_items": sum(graph.num_nodes.values()),
            "n_directed_edges": directed,
            "config": hcfg.model_dump(),
            "rows": rows,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
