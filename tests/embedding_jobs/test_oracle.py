"""The Oracle on a toy case: taste shares per true group times quality within group and type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from embedding_jobs.evaluate import baselines
from embedding_jobs.evaluate.oracle import Oracle, read_item_groups, truth_path
from embedding_jobs.evaluate.protocol import build_tasks
from gfm.errors import RawInputError

# podcasts 1-4 and audiobooks 11-12; groups: {1, 2, 11} are group 7, {3, 4, 12} group 9
ITEMS = pd.DataFrame({"item_id": [1, 2, 3, 4, 11, 12], "content_type": ["podcast"] * 4 + ["audiobook"] * 2})
GROUPS = pd.Series([7, 7, 9, 9, 7, 9], index=[1, 2, 3, 4, 11, 12])
# user 10: three group-7 items (one an audiobook) and one group-9 item; user 20: only item 3;
# users 30 and 31 make item 2 and item 4 more popular
TRAIN = pd.DataFrame(
    {
        "user_id": [10, 10, 10, 10, 20, 30, 31, 31],
        "item_id": [1, 2, 11, 3, 3, 2, 4, 2],
        "is_consumed": [True] * 8,
    }
)
EVAL = pd.DataFrame(
    {"user_id": [10, 20, 40], "item_id": [4, 4, 4], "content_type": "podcast"}
)  # user 40 has no history


def test_oracle_scores_taste_share_times_quality_within_group_and_type():
    oracle = Oracle.fit(GROUPS, TRAIN, ITEMS)
    task = {t.name: t for t in build_tasks(ITEMS, TRAIN, EVAL)}["podcast"]
    assert task.item_ids.tolist() == [1, 2, 3, 4]
    pop = baselines.item_popularity(TRAIN)
    users, items = oracle.scores(task, pop)
    scores = (users @ items.T).numpy()
    # pop + 1: item 1 -> 2, item 2 -> 4, item 3 -> 3, item 4 -> 2; podcast group sums 6 and 5
    quality = np.array([2 / 6, 4 / 6, 3 / 5, 2 / 5])
    taste_10 = np.array([3 / 4, 3 / 4, 1 / 4, 1 / 4])  # three of four consumptions in group 7
    tie = 1e-6 * baselines.pop_column(task, pop).squeeze(1).numpy()
    np.testing.assert_allclose(scores[0], taste_10 * quality + tie, rtol=1e-5)
    taste_20 = np.array([0.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(scores[1], taste_20 * quality + tie, rtol=1e-5, atol=1e-7)
    # no history: the popularity ranking
    assert torch.equal(
        torch.argsort(torch.from_numpy(scores[2])),
        torch.argsort(baselines.pop_column(task, pop).squeeze(1)),
    )


def test_truth_file_is_optional_and_checked(tmp_path):
    assert read_item_groups(tmp_path) is None
    path = truth_path(tmp_path)
    path.parent.mkdir(parents=True)
    pd.DataFrame({"item_id": [1, 2], "group_id": [0, 1]}).to_parquet(path)
    assert read_item_groups(tmp_path).to_dict() == {1: 0, 2: 1}
    pd.DataFrame({"item_id": [1, 1], "group_id": [0, 1]}).to_parquet(path)
    with pytest.raises(RawInputError, match="more than one group"):
        read_item_groups(tmp_path)
    pd.DataFrame({"item_id": [1]}).to_parquet(path)
    with pytest.raises(RawInputError, match="group_id"):
        read_item_groups(tmp_path)
