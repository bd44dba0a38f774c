"""Seconds for the two-tower loss's forward and backward: the fused logits against the plain formula.

    python benchmarks/two_tower_logits.py --out X.json

At Yelp2018's training shapes (``gfm run``'s choices: batches of 4,096 examples, 1,024 catalogue
negatives, so 5,120 columns; 128-d towers, temperature .07, the logQ correction), times the
sampled softmax's loss and its gradients with respect to the user and item vectors, which every
training step computes once. "plain" is the formula as written before 2026-12-07: divide the
product by the temperature, subtract log q, mask the repeated items with a full (B, C) comparison.
"fused" is ``InBatchSoftmaxTask.logits``: one ``addmm`` carries the scale and the correction, and
the repeated items (found by sorting the columns) are masked in place. The item ids are drawn
from a Zipf law over 38,048 items, so popular items repeat within a batch as on Yelp2018. The JSON
records both arms' seconds (alternating repeats), the loss and the largest gradient difference.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from embedding_jobs.models.two_tower import InBatchSoftmaxTask
from gfm.config import TwoTowerConfig

ROWS, COLUMNS, DIM, N_ITEMS, TEMPERATURE = 4096, 5120, 128, 38_048, 0.07


def _inputs(seed: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.from_numpy((rng.zipf(1.3, COLUMNS) - 1) % N_ITEMS)
    return {
        "users": F.normalize(torch.randn(ROWS, DIM, generator=gen), dim=1),
        "items": F.normalize(torch.randn(COLUMNS, DIM, generator=gen), dim=1),
        "ids": ids,
        "log_q": torch.log(torch.rand(COLUMNS, generator=gen) * 1e-3 + 1e-6),
    }


def plain(users: torch.Tensor, items: torch.Tensor, ids: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """The logits as computed before the fused form."""
    logits = users @ items.T / TEMPERATURE - log_q.unsqueeze(0)
    same = ids[:ROWS].unsqueeze(1) == ids.unsqueeze(0)
    same[torch.arange(ROWS), torch.arange(ROWS)] = False
    return logits.masked_fill(same, float("-inf"))


def _step(logits_fn: Callable[..., torch.Tensor], data: dict[str, torch.Tensor]) -> tuple[float, Any]:
    users, items = data["users"].clone().requires_grad_(), data["items"].clone().requires_grad_()
    loss = F.cross_entropy(logits_fn(users, items, data["ids"], data["log_q"]), torch.arange(ROWS))
    loss.backward()  # type: ignore[no-untyped-call]
    return float(loss.detach()), (users.grad, items.grad)


def main() -> None:
    """Time both arms, check they agree, write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--note", default="", help="what else ran on the machine, for the record")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    data = _inputs(0)
    task = InBatchSoftmaxTask(TwoTowerConfig(temperature=TEMPERATURE))
    arms: dict[str, Callable[..., torch.Tensor]] = {"plain": plain, "fused": task.logits}
    seconds: dict[str, list[float]] = {name: [] for name in arms}
    results = {name: _step(fn, data) for name, fn in arms.items()}  # warm-up, and the figures compared
    for _ in range(args.repeats):
        for name, fn in arms.items():
            start = time.perf_counter()
            _step(fn, data)
            seconds[name].append(round(time.perf_counter() - start, 4))
    median = {name: sorted(s)[len(s) // 2] for name, s in seconds.items()}
    grad_diff = max(
        float((a - b).abs().max()) for a, b in zip(results["plain"][1], results["fused"][1], strict=True)
    )
    out = {
        "shapes": {"rows": ROWS, "columns": COLUMNS, "dim": DIM, "items": N_ITEMS},
        "repeated_pairs": int((data["ids"][:ROWS].unsqueeze(1) == data["ids"].unsqueeze(0)).sum()) - ROWS,
        "torch_threads": torch.get_num_threads(),
        "seconds": seconds,
        "median_seconds": median,
        "speedup": round(median["plain"] / median["fused"], 2),
        "loss": {name: r[0] for name, r in results.items()},
        "max_abs_gradient_difference": grad_diff,
        "note": args.note,
    }
    with open(args.out, "w") as f:
        f.write(json.dumps(out, indent=2) + "\n")
    print(
        json.dumps({k: out[k] for k in ("median_seconds", "speedup", "loss", "max_abs_gradient_difference")})
    )


if __name__ == "__main__":
    main()
