"""Each HGNN version's graph partners (``embedding_jobs.partners``) and the mixture read over them.

The served 2T-HGNN reads each consumed item's HGNN softmax over its partners
(``baselines.item_mixture``'s ``partners``); the brute-force sum below is that definition.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from embedding_jobs.evaluate import baselines
from embedding_jobs.partners import Partners
from gfm.errors import NotFoundError
from tests.fixtures.one_type_task import one_type_task


def _partners(src: list[int], dst: list[int], n_items: int = 9) -> Partners:
    ids = np.arange(100, 100 + n_items)
    types = np.where(ids % 2 == 0, "podcast", "audiobook")
    return Partners.from_edges(np.array(src), np.array(dst), ids, types)


def test_both_directions_each_once_with_the_partners_type(tmp_path: Path) -> None:
    partners = _partners([100, 101, 102, 104, 101, 103], [101, 103, 105, 100, 100, 103])
    assert partners.of(100).tolist() == [101, 104]  # (100, 101) twice, both ways: once
    assert partners.of(103).tolist() == [101]  # the self-loop (103, 103) is dropped
    assert partners.of(100, "podcast").tolist() == [104]
    assert partners.of(100, "audiobook").tolist() == [101]
    assert partners.of(100, "audio course").tolist() == []
    assert partners.of(106).tolist() == []  # no edge
    again = Partners.read(partners.write(tmp_path / "partners.parquet"))
    for item in range(100, 109):
        for ctype in (None, "podcast", "audiobook"):
            assert again.of(item, ctype).tolist() == partners.of(item, ctype).tolist()
    with pytest.raises(NotFoundError, match="partner file"):
        Partners.read(tmp_path / "missing.parquet")


def test_the_matrix_lines_rows_up_with_columns() -> None:
    partners = _partners([100, 101], [101, 103])
    got = partners.matrix(np.array([103, 101, 107]), np.array([101, 100, 103, 250]))
    assert got.toarray().tolist() == [
        [True, False, False, False],  # 103 - 101
        [False, True, True, False],  # 101 - 100, 103
        [False, False, False, False],  # 107: none
    ]


def _brute_force(vecs, ids, history, partners, t, depth):
    """log(mean over h of the softmax of cos(h, .) / t over h's ``depth`` nearest partners, or nearest items)."""
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    row = {int(i): r for r, i in enumerate(ids)}
    total = np.zeros(len(ids))
    for h in history:
        cos = {int(k): float(unit[row[h]] @ unit[row[int(k)]]) for k in ids if k != h}
        support = [k for k in partners.get(h, []) if k != h] or list(cos)
        support = sorted(support, key=lambda k: -cos[k])[:depth]
        z = sum(math.exp(cos[k] / t) for k in support)
        for k in support:
            total[row[k]] += math.exp(cos[k] / t) / z
    return [math.log(max(x, 1e-30) / len(history)) for x in total]  # the floor before the mean, as scored


@pytest.mark.parametrize("depth", [3, None])
def test_the_partner_mixture_matches_a_brute_force_sum(depth: int | None) -> None:
    rng = np.random.default_rng(7)
    ids = np.arange(100, 109)
    vecs = rng.normal(size=(9, 4)).astype(np.float32)
    # 100 has four partners (more than depth 3: its three nearest are read); 106 has none
    src, dst = [100, 101, 102, 104, 100, 100], [101, 103, 105, 100, 107, 108]
    partners = Partners.from_edges(np.array(src), np.array(dst), ids, np.full(9, "podcast"))
    lists = {int(i): partners.of(int(i)).tolist() for i in ids}
    histories = {1: [100, 106], 2: [103], 3: [102, 104, 106]}
    task, consumed, weak, pop = one_type_task(9, histories)
    for t in (0.05, 0.5):
        got = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, t, depth, 2, partners)
        scores = got(0, len(task.user_ids))
        for r, user in enumerate(task.user_ids.tolist()):
            expected = _brute_force(vecs, ids, histories[user], lists, t, depth or 9)
            torch.testing.assert_close(
                scores[r], torch.tensor(expected, dtype=torch.float32), rtol=1e-4, atol=1e-4
            )


def test_an_item_off_the_graph_gets_no_mass_from_a_partnered_history() -> None:
    """What the nearest-items reading gives a look-alike with no edge, the partner reading does not."""
    ids = np.arange(100, 104)
    vecs = np.array([[1.0, 0.0], [0.0, 1.0], [0.99, 0.14], [0.7, 0.7]], dtype=np.float32)
    partners = Partners.from_edges(np.array([100]), np.array([101]), ids, np.full(4, "podcast"))
    task, consumed, weak, pop = one_type_task(4, {1: [100]})
    near = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, 0.05)(0, 1)[0]
    mates = baselines.item_mixture(task, (ids, vecs), consumed, weak, pop, 0.05, partners=partners)(0, 1)[0]
    assert near[2] > near[1]  # the look-alike beats the partner when every item is read
    assert mates[1] > mates[2] and mates[1] == 0.0  # all of 100's mass on its one partner
