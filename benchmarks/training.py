"""Training and inference throughput of the embedding jobs; prints a table and writes JSON.

    python benchmarks/training.py                     # default scale, on CUDA if present
    python benchmarks/training.py --scale 100 --batch-size 4096 --out bench.json

Scale 1 is the default synthetic catalogue: 3,750 items (1/3 audiobooks, 2/3 podcasts) and
87,000 directed edges (43,500 co-consumption pairs) over 384-d features, so scale 100 is the
issue's "10% of paper scale" (375k items, 8.7M directed edges) and scale 1000 is paper scale.
Measured: HGNN training (positive link edges/s and sampled message edges/s), layer-wise inference
over every item (items/s), the text encoder (items/s), and the two-tower model: training
(examples/s) and the export of item and user vectors (items/s, users/s).
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
from embedding_jobs.data.sketch import with_sketch
from embedding_jobs.device import describe_device, resolve_device
from embedding_jobs.models.two_tower import ItemBatch, TowerSpec, TwoTowerModel, TwoTowerRetriever, UserBatch
from embedding_jobs.train_hgnn import fit_hgnn
from gfm.config import HGNNConfig, TwoTowerConfig

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
    # the model's input is the text ++ the co-consumption sketch fit_hgnn added (hgnn.sketch_dim)
    features = with_sketch(graph, hcfg.sketch_dim).features
    model.inference(graph.csr, graph.num_nodes, features, device=device)
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


def _tower_batches(spec: TowerSpec, n: int, seed: int) -> tuple[UserBatch, ItemBatch]:
    """Random tower inputs of the default synthetic shapes (unit text/HGNN vectors)."""
    g = torch.Generator().manual_seed(seed)

    def unit(*shape: int) -> torch.Tensor:
        return torch.nn.functional.normalize(torch.randn(*shape, generator=g), dim=-1)

    def ints(high: int, *shape: int) -> torch.Tensor:
        return torch.randint(0, high, shape, generator=g)

    users = UserBatch(
        torch.stack([ints(spec.n_countries, n), ints(spec.n_ages, n)], 1),
        unit(n, spec.n_types, spec.hist_dim),
        ints(20, n, spec.n_types).float(),
        unit(n, spec.n_types, spec.hist_dim),
        ints(5, n, spec.n_types).float(),
        torch.randn(n, spec.user_dense, generator=g),
    )
    items = ItemBatch(
        torch.stack([ints(spec.n_types, n), ints(spec.n_genres, n), ints(spec.n_languages, n)], 1),
        unit(n, spec.text_dim),
        unit(n, spec.hgnn_dim),
        torch.randn(n, spec.item_dense, generator=g),
    )
    return users, items


def bench_two_tower(args: argparse.Namespace, device: torch.device) -> list[Row]:
    """Two-tower training (examples/s, in-batch softmax steps) and item-tower inference (items/s).

    Shapes are the synthetic default's 2T-HGNN: two content types, 384-d text and 128-d HGNN
    vectors, history slots of text ++ HGNN per type. Inputs are random: the point is the cost of a
    step, which does not depend on the values. Feast retrieval is measured by
    ``benchmarks/features.py``.
    """
    tc = TwoTowerConfig()
    spec = TowerSpec(
        n_types=2, n_countries=31, n_ages=8, n_genres=25, n_languages=7,
        hist_dim=512, text_dim=384, hgnn_dim=128, user_dense=6, item_dense=4,
    )  # fmt: skip
    model = TwoTowerModel(tc, spec).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr)
    bs = args.tt_batch_size
    users, items = _tower_batches(spec, bs, seed=0)
    users, items = users.to(device), items.to(device)
    item_ids = torch.randint(0, 50_000, (bs,), device=device)
    log_q = torch.full((bs,), -10.0, device=device)

    def step() -> None:
        loss = model.loss(users, items, item_ids, log_q)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()

    for _ in range(3):  # warm-up
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.tt_steps):
        step()
    _sync(device)
    train_s = time.perf_counter() - start
    n_items = args.tt_items
    all_users, all_items = _tower_batches(spec, n_items, seed=1)
    retriever = TwoTowerRetriever(model, device)
    retriever.encode_items(_slice(all_items, 4096))  # warm-up
    _sync(device)
    start = time.perf_counter()
    retriever.encode_items(all_items)
    _sync(device)
    item_s = time.perf_counter() - start
    start = time.perf_counter()
    retriever.encode_users(all_users)
    _sync(device)
    user_s = time.perf_counter() - start
    return [
        {
            "benchmark": "two-tower train",
            "value": args.tt_steps * bs / train_s,
            "unit": "examples/s",
            "detail": f"{args.tt_steps} steps of {bs} (in-batch softmax), {train_s / args.tt_steps * 1000:.1f} ms/step",
        },
        {
            "benchmark": "two-tower item export",
            "value": n_items / item_s,
            "unit": "items/s",
            "detail": f"{n_items:,} items, chunks of {retriever.chunk}",
        },
        {
            "benchmark": "two-tower user export",
            "value": n_items / user_s,
            "unit": "users/s",
            "detail": f"{n_items:,} users, chunks of {retriever.chunk}",
        },
    ]


def _slice(items: ItemBatch, n: int) -> ItemBatch:
    return ItemBatch(items.cat[:n], items.text[:n], items.hgnn[:n], items.dense[:n])


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
    parser.add_argument(
        "--show-targets",
        action="store_true",
        help="leave batch targets among the messages (hgnn.hide_target_edges off)",
    )
    parser.add_argument("--text-items", type=int, default=512, help="texts to embed (0 skips)")
    parser.add_argument("--tt-steps", type=int, default=30, help="timed two-tower steps (0 skips)")
    parser.add_argument("--tt-batch-size", type=int, default=TwoTowerConfig().batch_size)
    parser.add_argument("--tt-items", type=int, default=50_000, help="items (and users) to export")
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
    hcfg = HGNNConfig(
        batch_size=args.batch_size,
        fanouts=args.fanouts,
        epochs=10**6,
        hide_target_edges=not args.show_targets,
    )
    rows = bench_hgnn(graph, hcfg, device, args.steps)
    if args.text_items:
        rows += bench_text(args.text_items, device)
    if args.tt_steps:
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
