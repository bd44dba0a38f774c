"""The text encoder's cost per item for the catalogues of several data dirs, measured side by side.

    python benchmarks/text_rate.py DIR_1X DIR_30X --out benchmarks/results/text_rate.json

``benchmarks/pipeline.py`` times the text stage of runs made at different moments, so a busier
machine during one run shows as growth. This encodes the same number of texts sampled from each
data dir's ``dim_items`` (the pipeline's own text, encoder and batching: sorted by length, one
thread), one dir after the other and then the first again, so whether an item of a large catalogue
costs more than one of a small catalogue is measured under the same conditions.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd
import torch

from embedding_jobs.text_features import TextEncoder, default_model_path, item_texts


def main() -> None:
    """Encode a sample of every dir's item texts and write the per-item cost."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dirs", type=Path, nargs="+", help="gfm data dirs with marts")
    parser.add_argument("--sample", type=int, default=1500, help="texts encoded per dir")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    encoder = TextEncoder(default_model_path(), 128, device="cpu")
    rows = []
    for data_dir in [*args.data_dirs, args.data_dirs[0]]:  # the first again: did the machine change?
        texts = item_texts(pd.read_parquet(data_dir / "marts" / "dim_items.parquet"))
        sample = sorted(texts.sample(min(args.sample, len(texts)), random_state=0).tolist(), key=len)
        cpu, wall = time.process_time(), time.perf_counter()
        for lo in range(0, len(sample), args.batch_size):
            encoder.encode(sample[lo : lo + args.batch_size])
        row = {
            "data_dir": str(data_dir),
            "n_items": len(texts),
            "mean_chars": float(texts.str.len().mean()),
            "cpu_ms_per_item": (time.process_time() - cpu) / len(sample) * 1000,
            "wall_ms_per_item": (time.perf_counter() - wall) / len(sample) * 1000,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    load = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "load_average_1_5_15": load}, indent=2) + "\n")


if __name__ == "__main__":
    main()
