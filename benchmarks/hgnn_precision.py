"""Seconds per HGNN training step in float32 and in bfloat16, on a data dir's marts.

    python benchmarks/hgnn_precision.py --data-dir /tmp/yelp --version V --steps 12 --out X.json

Builds the graph HGNN version ``V`` trained on, with the settings on its card (the setup ``gfm run``
chose for that data; ``hgnn.precision`` is set here, per arm), then times
``--steps`` training steps of ``embedding_jobs.train_hgnn.fit_hgnn`` after a short warm-up, once per
precision, alternating ``--repeats`` times. Each step is what an epoch repeats: a batch of links,
the sampled two-hop neighbourhood, the forward pass, the loss and the update. The JSON records the
torch threads, whether the CPU multiplies bf16 in hardware, and each arm's mean loss over its steps
(the same seed: the two arms' losses differ by bf16's rounding only). Quality is not measured
here: train both and compare them with ``benchmarks/hgnn_versions.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from embedding_jobs.device import cpu_has_native_bf16
from embedding_jobs.train_hgnn import fit_hgnn, load_hgnn_graph
from gfm.config import Config, HGNNConfig
from gfm.naming import checkpoint_dir

WARM_STEPS = 3


def time_steps(data_dir: Path, version: str, steps: int, repeats: int) -> dict[str, Any]:
    """Per precision, the seconds per step of each repeat and the mean loss of its steps."""
    cfg = Config.load(data_dir=data_dir)
    card = json.loads((checkpoint_dir(cfg.models_dir, "hgnn", version) / "card.json").read_text())
    cfg = cfg.model_copy(update={"hgnn": HGNNConfig(**card["config"]["hgnn"])})
    graph, _ = load_hgnn_graph(cfg)
    device = torch.device("cpu")
    arms: dict[str, dict[str, Any]] = {
        p: {"seconds_per_step": [], "mean_loss": None} for p in ("fp32", "bf16")
    }
    for _ in range(repeats):
        for precision, arm in arms.items():
            hcfg = cfg.hgnn.model_copy(update={"precision": precision})
            fit_hgnn(graph, hcfg, device, show_progress=False, max_steps=WARM_STEPS)
            start = time.perf_counter()
            _, stats = fit_hgnn(graph, hcfg, device, show_progress=False, max_steps=steps)
            arm["seconds_per_step"].append(round((time.perf_counter() - start) / steps, 4))
            arm["mean_loss"] = round(stats.epoch_losses[-1], 5)
    for arm in arms.values():
        arm["median_seconds_per_step"] = sorted(arm["seconds_per_step"])[len(arm["seconds_per_step"]) // 2]
    return {
        "data_dir": str(data_dir),
        "version": version,
        "nodes": sum(graph.num_nodes.values()),
        "edges": graph.num_edges,
        "batch_size": cfg.hgnn.batch_size,
        "sketch_dim": cfg.hgnn.sketch_dim,
        "steps": steps,
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "torch": torch.__version__,
        "arms": arms,
        "speedup": round(
            arms["fp32"]["median_seconds_per_step"] / arms["bf16"]["median_seconds_per_step"], 2
        ),
    }


def main() -> None:
    """Parse the arguments, time both precisions, write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="a data dir with marts (after gfm transform)"
    )
    parser.add_argument("--version", required=True, help="an HGNN version trained in --data-dir")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per arm and repeat")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats of both arms")
    parser.add_argument("--note", default="", help="what else ran on the machine, for the record")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = time_steps(args.data_dir, args.version, args.steps, args.repeats) | {"note": args.note}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("speedup", "torch_threads", "cpu_native_bf16")}))


if __name__ == "__main__":
    main()
