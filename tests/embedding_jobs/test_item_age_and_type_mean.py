"""Exact item ages as of each row's time, and the per-type mean that picks the two-tower's epochs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from embedding_jobs.data.interactions import build_catalogue
from embedding_jobs.two_tower_validation import hit_rows_at_k, hits_at_k, mean_over_types


def _catalogue():
    dim_items = pd.DataFrame(
        {
            "item_id": [3, 1, 2],
            "content_type": ["podcast", "podcast", "audiobook"],
            "published_at": pd.to_datetime(["2026-01-10 00:00", "2024-05-01 23:00", None], utc=True),
        }
    )
    text = (np.array([1, 2, 3]), np.eye(3, dtype=np.float32))
    return build_catalogue(dim_items, ["audiobook", "podcast"], text, None)


def test_age_comes_from_the_publication_date_not_from_a_missing_feature_row() -> None:
    cat = _catalogue()
    frame = pd.DataFrame(
        {
            "item_id": [1, 3, 3, 2],
            "event_timestamp": pd.to_datetime(
                ["2026-01-10 12:00", "2026-01-10 12:00", "2026-01-01 00:00", "2026-01-10 00:00"], utc=True
            ),
            # retrieved: missing for an old item nobody consumed lately (read as 0 before the fix)
            "age_days": [np.nan, np.nan, np.nan, 7.0],
        }
    )
    out = cat.with_exact_age(frame)
    expected_old = (pd.Timestamp("2026-01-10") - pd.Timestamp("2024-05-01")).days
    assert out["age_days"].tolist() == [expected_old, 0.0, 0.0, 7.0]  # before publication: 0; no date: kept
    assert frame["age_days"].isna().sum() == 3  # the input is not modified


def test_frames_without_items_or_times_pass_through() -> None:
    cat = _catalogue()
    users = pd.DataFrame({"user_id": [1], "event_timestamp": pd.to_datetime(["2026-01-01"], utc=True)})
    assert cat.with_exact_age(users) is users


def test_hit_rows_sum_to_the_hit_count() -> None:
    g = torch.Generator().manual_seed(1)
    users, items = torch.randn(25, 4, generator=g), torch.randn(12, 4, generator=g)
    types = torch.randint(0, 3, (12,), generator=g)
    targets = torch.randint(0, 12, (25,), generator=g)
    excluded = torch.zeros(2, 0, dtype=torch.long)
    rows = hit_rows_at_k(users, items, types, targets, excluded, 3, chunk=4)
    assert rows.dtype == torch.bool and rows.shape == (25,)
    assert int(rows.sum()) == hits_at_k(users, items, types, targets, excluded, 3)


def test_each_type_weighs_the_same_in_the_mean() -> None:
    # 9 rows of type 0, all hits; 1 row of type 1, a miss: pooled .9, per-type mean .5
    hit = torch.tensor([True] * 9 + [False])
    types = torch.tensor([0] * 9 + [1])
    assert float(hit.float().mean()) == pytest.approx(0.9)
    assert mean_over_types(hit, types) == pytest.approx(0.5)
    assert mean_over_types(torch.zeros(0, dtype=torch.bool), torch.zeros(0, dtype=torch.long)) == 0.0


def test_a_content_type_the_model_never_saw_is_refused_not_mapped_to_index_0() -> None:
    from embedding_jobs.data.interactions import encode_types
    from gfm.errors import StageError

    assert encode_types(pd.Series(["podcast", "audiobook"]), ["audiobook", "podcast"]).tolist() == [1, 0]
    with pytest.raises(StageError, match="'audio_course' is not one this model was trained on"):
        encode_types(pd.Series(["podcast", "audio_course"]), ["audiobook", "podcast"])
