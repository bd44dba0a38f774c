"""The catalogue's history vectors: text ++ HGNN (default) or HGNN only (the seed's user tower)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embedding_jobs.data.interactions import build_catalogue


def _items() -> pd.DataFrame:
    return pd.DataFrame({"item_id": [3, 1, 2], "content_type": ["podcast", "audiobook", "podcast"]})


@pytest.mark.parametrize(("choice", "width"), [("text_hgnn", 6), ("hgnn", 2)])
def test_history_vectors_choose_what_summarises_a_user(choice, width):
    text = (np.array([1, 2, 3]), np.ones((3, 4), np.float32))
    hgnn = (np.array([2, 3]), np.full((2, 2), 0.5, np.float32))  # item 1 has no HGNN vector

    cat = build_catalogue(_items(), ["audiobook", "podcast"], text, hgnn, choice)

    assert cat.history.shape == (3, width)
    assert cat.item_ids.tolist() == [1, 2, 3]
    assert cat.type_idx.tolist() == [0, 1, 1]
    assert cat.hgnn[0].abs().sum() == 0  # a missing HGNN vector is zeros, not an error
    assert cat.history[1, -1] == pytest.approx(0.5)


def test_without_hgnn_the_history_is_the_text_vectors():
    text = (np.array([1, 2, 3]), np.ones((3, 4), np.float32))

    cat = build_catalogue(_items(), ["audiobook", "podcast"], text, None, "hgnn")

    assert cat.history.shape == (3, 4)
    assert cat.hgnn.shape == (3, 0)
