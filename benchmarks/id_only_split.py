"""Write a data dir's train/evaluation split as a LightGCN-format folder: an ID-only copy of it.

    python benchmarks/id_only_split.py --data-dir DIR --out SPLIT_DIR
    python benchmarks/real_data.py --source lightgcn --path SPLIT_DIR --data-dir RUN_DIR --out X.json

A second source with no item text and no event times beside Yelp2018, for settings chosen from
those traits (``pipeline/setup_choice.py``): the consumed pairs of ``fct_interactions`` become
``train.txt``, the evaluation window's consumptions of users and items seen in training (minus
pairs already in training) become ``test.txt``, with users and items renumbered from 0. Content
types, text and times are dropped, as a published split has none of them. ``DIR`` needs the marts
of a ``gfm transform`` or ``gfm run`` (e.g. after ``gfm generate --tastes communities``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def write_split(data_dir: Path, out: Path) -> dict[str, int]:
    """Write ``train.txt`` and ``test.txt`` under ``out``; returns the counts."""
    marts = data_dir / "marts"
    facts = pd.read_parquet(marts / "fct_interactions.parquet")
    held = pd.read_parquet(marts / "fct_eval_interactions.parquet")
    train = facts.loc[facts["is_consumed"].astype(bool), ["user_id", "item_id"]].drop_duplicates()
    test = held[["user_id", "item_id"]].drop_duplicates()
    test = test.loc[test["user_id"].isin(train["user_id"]) & test["item_id"].isin(train["item_id"])]
    test = test.merge(train, how="left", indicator=True)
    test = test.loc[test["_merge"] == "left_only", ["user_id", "item_id"]]
    users = {u: i for i, u in enumerate(sorted(train["user_id"].unique()))}
    items = {u: i for i, u in enumerate(sorted(train["item_id"].unique()))}
    out.mkdir(parents=True, exist_ok=True)
    for name, pairs in (("train", train), ("test", test)):
        rows = pairs.assign(u=pairs["user_id"].map(users), i=pairs["item_id"].map(items))
        lines = [" ".join(map(str, [u, *sorted(g)])) for u, g in rows.groupby("u")["i"]]
        (out / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return {"train_pairs": len(train), "test_pairs": len(test), "users": len(users), "items": len(items)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a data dir with marts")
    parser.add_argument(
        "--out", type=Path, required=True, help="the folder to write train.txt and test.txt to"
    )
    args = parser.parse_args()
    print(write_split(args.data_dir, args.out))


if __name__ == "__main__":
    main()
