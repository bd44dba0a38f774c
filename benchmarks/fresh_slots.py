"""What reserving slots for recently published items would do to HR@10 (a measurement, not a feature).

    python benchmarks/fresh_slots.py --data-dir .gfm --versions v1 v2 --out fresh.json

The learned models score 0.000 on the new-item tier (items nobody consumed in training). This
script asks whether a serving policy could reach them: for each two-tower version and content
type it ranks as ``gfm evaluate`` does (every item of the type, the user's training items left
out), then fills the last ``r`` of the 10 slots with the user's best-scoring *fresh* items, those
published at most ``--fresh-days`` before the training window's end (or later), and reports HR@10
over all evaluated users and on the new-item tier for r = 0..3. r = 0 is the model as evaluated.

``--fresh unseen`` reserves the slots for the items nobody consumed in training (the new-item tier's
items) instead of recently published ones; ``--fill text`` ranks the reserved slots by text-kNN
(the cosine of the user's mean training text vector) instead of by the model: a content-based
source for items the collaborative signal cannot know yet. ``--offsets B ...`` also reports, instead of
reserved slots, every fresh item's score raised by B (rows with ``"offset"``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from embedding_jobs.data.interactions import read_mart
from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.protocol import TIERS, EvalTask, build_tasks
from embedding_jobs.export import read_vectors
from gfm.config import Config
from gfm.naming import export_path

K = 10


def hit_rates(
    task: EvalTask, scores: torch.Tensor, fresh: np.ndarray, reserved: int, fill: torch.Tensor | None = None
) -> tuple[float, float]:
    """HR@10 over all users and over users with a relevant new-tier item, ``reserved`` fresh slots.

    ``fill`` ranks the reserved slots (default: ``scores``).
    """
    s = scores.clone()
    s[torch.from_numpy(task.excluded.rows), torch.from_numpy(task.excluded.cols)] = -torch.inf
    fresh_t = torch.from_numpy(fresh)
    main = s.masked_fill(fresh_t.unsqueeze(0), -torch.inf) if reserved else s
    top = torch.topk(main, K - reserved, dim=1).indices
    if reserved:
        f = s if fill is None else fill.clone()
        f[torch.from_numpy(task.excluded.rows), torch.from_numpy(task.excluded.cols)] = -torch.inf
        only_fresh = f.masked_fill(~fresh_t.unsqueeze(0), -torch.inf)
        top = torch.cat([top, torch.topk(only_fresh, reserved, dim=1).indices], dim=1)
    relevant = torch.zeros_like(s, dtype=torch.bool)
    relevant[torch.from_numpy(task.relevant.rows), torch.from_numpy(task.relevant.cols)] = True
    hit = relevant.gather(1, top)
    new = torch.from_numpy(task.item_tier == TIERS.index("new"))
    new_users = np.unique(task.relevant.rows[new.numpy()[task.relevant.cols]])
    hit_new = (hit & new[top]).any(dim=1)[torch.from_numpy(new_users)]
    return float(hit.any(dim=1).float().mean()), float(hit_new.float().mean()) if len(new_users) else 0.0


def offset_hit_rates(
    task: EvalTask, scores: torch.Tensor, fresh: np.ndarray, offset: float
) -> tuple[float, float]:
    """HR@10 over all users and on the new-item tier with every fresh item's score raised by ``offset``."""
    raised = scores + offset * torch.from_numpy(fresh).float().unsqueeze(0)
    return hit_rates(task, raised, fresh, 0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".gfm"))
    parser.add_argument("--versions", nargs="+", required=True, help="two-tower versions to rank with")
    parser.add_argument("--fresh-days", type=int, default=14)
    parser.add_argument(
        "--fresh",
        choices=("recent", "unseen"),
        default="recent",
        help="reserve slots for items published in the last --fresh-days, or for items with no training consumer",
    )
    parser.add_argument(
        "--fill", choices=("model", "text"), default="model", help="what ranks the reserved slots"
    )
    parser.add_argument("--offsets", type=float, nargs="*", default=[], help="score offsets for fresh items")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    cfg = Config.load(data_dir=args.data_dir)
    items = read_mart(cfg, "dim_items")
    train = read_mart(cfg, "fct_interactions")
    evals = read_mart(cfg, "fct_eval_interactions")
    tasks = build_tasks(items, train, evals)
    pop = baselines.item_popularity(train)
    consumed = train.loc[train["is_consumed"].astype(bool)]
    train_end = pd.to_datetime(consumed["first_event_at"], utc=True).max()
    published = pd.to_datetime(items.set_index("item_id")["published_at"], utc=True)
    cutoff = train_end - pd.Timedelta(days=args.fresh_days)
    text = None
    if args.fill == "text":
        from embedding_jobs.text_features import text_features_path

        text = read_vectors(text_features_path(cfg))
    cons, weak = baselines.user_item_lists(train)
    rows: list[dict[str, Any]] = []
    for version in args.versions:
        users = read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "user"), "user_id")
        vecs = read_vectors(export_path(cfg.embeddings_dir, "two_tower", version, "item"))
        for task in tasks:
            u, i = baselines.two_tower(task, users, vecs, pop)
            if args.fresh == "unseen":
                fresh = task.item_tier == TIERS.index("new")
            else:
                fresh = (published.reindex(task.item_ids) >= cutoff).to_numpy()
            fill = None
            if text is not None:
                tu, ti = baselines.mean_vector(task, text, cons, weak, pop)
                fill = tu @ ti.T
            for offset in args.offsets:
                all_hr, new_hr = offset_hit_rates(task, u @ i.T, fresh, offset)
                rows.append(
                    {
                        "version": version,
                        "type": task.name,
                        "offset": offset,
                        "hr@10": all_hr,
                        "new_tier_hr@10": new_hr,
                        "fresh_items": int(fresh.sum()),
                    }
                )
                print(
                    f"{version} {task.name:<12} offset {offset:+.2f}  all {all_hr:.3f}  new tier {new_hr:.3f}"
                )
            for reserved in range(4):
                all_hr, new_hr = hit_rates(task, u @ i.T, fresh, reserved, fill)
                rows.append(
                    {
                        "version": version,
                        "type": task.name,
                        "reserved": reserved,
                        "hr@10": all_hr,
                        "new_tier_hr@10": new_hr,
                        "fresh_items": int(fresh.sum()),
                    }
                )
                print(
                    f"{version} {task.name:<12} r={reserved}  all {all_hr:.3f}  new tier {new_hr:.3f}"
                    f"  ({int(fresh.sum())} fresh items)",
                    flush=True,
                )
    if args.out:
        body = {
            "data_dir": str(args.data_dir),
            "fresh": args.fresh,
            "fresh_days": args.fresh_days,
            "fill": args.fill,
            "k": K,
            "rows": rows,
        }
        args.out.write_text(json.dumps(body, indent=2) + "\n")


if __name__ == "__main__":
    main()
