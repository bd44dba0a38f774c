"""Catalogue negatives beside same-day in-batch ones (``two_tower.catalogue_negatives``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from embedding_jobs.data.batches import DAY_NS, example_log_q
from embedding_jobs.models.two_tower import InBatchSoftmaxTask
from embedding_jobs.two_tower_inputs import Rows
from embedding_jobs.two_tower_negatives import CatalogueNegatives, snapshot_buckets, snapshot_frame
from gfm.config import TwoTowerConfig


def _item_rows(items: torch.Tensor) -> Rows:
    empty = torch.empty(0)
    return Rows(empty, items, empty, empty, empty, empty, torch.empty(0, dtype=torch.long))


def test_a_snapshot_holds_the_items_published_by_its_start() -> None:
    ids = np.array([10, 11, 12, 13])
    published = np.array([-1, 0, 2 * DAY_NS, 5 * DAY_NS])  # -1: unknown, always there
    frame, offsets = snapshot_frame(ids, published, np.array([0, DAY_NS, 2 * DAY_NS, 3 * DAY_NS]))
    assert offsets.tolist() == [0, 2, 4, 7, 10]
    assert frame["item_id"].tolist() == [10, 11, 10, 11, 10, 11, 12, 10, 11, 12]
    seconds = frame["event_timestamp"].astype("int64").to_numpy() // 10**9
    assert seconds[:2].tolist() == [1, 1] and seconds[-1] == 3 * 86_400 + 1  # one second after


def test_snapshots_follow_the_examples_without_one_per_empty_or_thin_bucket() -> None:
    dense = torch.arange(10).repeat_interleave(300)  # 300 examples on each of 10 days
    assert snapshot_buckets(dense, batch_size=1024).tolist() == list(range(10))
    thin = torch.tensor([0] * 100 + [3] * 100 + [4] * 100 + [9] * 100 + [20] * 300)
    assert snapshot_buckets(thin, batch_size=1024).tolist() == [0, 9]  # once 256 examples passed
    many = torch.arange(10_000).repeat_interleave(300)
    assert len(snapshot_buckets(many, batch_size=1024, max_snapshots=128)) <= 129


def test_draw_takes_the_batch_snapshot_and_corrects_each_column_by_its_expected_copies() -> None:
    # day 0: items 0, 0, 1; day 1: items 2, 3; day 2: item 0. Snapshots of days 0 and 1.
    items = torch.tensor([0, 0, 1, 2, 3, 0])
    bucket = torch.tensor([0, 0, 0, 1, 1, 2])
    snap = _item_rows(torch.tensor([0, 1, 2, 0, 1, 2, 3]))
    neg = CatalogueNegatives(snap, np.array([0, 3, 7]), np.array([0, 1]), bucket, items, per_batch=50)
    assert torch.allclose(neg.share(0, 0, torch.arange(4)).float(), torch.tensor([2 / 3, 1 / 3, 0, 0]))
    assert torch.allclose(
        neg.share(0, 2, torch.arange(4)).float(), torch.tensor([3 / 6, 1 / 6, 1 / 6, 1 / 6])
    )
    assert torch.allclose(neg.share(1, 2, torch.arange(4)).float(), torch.tensor([1 / 3, 0, 1 / 3, 1 / 3]))
    idx = torch.tensor([0, 1, 2])
    rows, drawn, q = neg.draw(idx, items[idx], torch.Generator().manual_seed(0))
    assert rows is snap and len(drawn) == 50 and set(drawn.tolist()) == {0, 1, 2}  # day 0's, uniform
    uniform = 50 / 3
    per_item = {0: 3 * 2 / 3 + uniform, 1: 3 * 1 / 3 + uniform, 2: uniform}  # B * share + M / N
    expect = torch.tensor([per_item[int(i)] for i in torch.cat([items[idx], snap.items[drawn]])])
    assert torch.allclose(q.exp(), expect.float(), rtol=1e-5)
    # a batch across days 1-2 uses the share of both days and the last snapshot before its middle
    idx = torch.tensor([3, 4, 5])
    rows, drawn, q = neg.draw(idx, items[idx], torch.Generator().manual_seed(0))
    assert set(drawn.tolist()) <= {3, 4, 5, 6}
    assert torch.allclose(q[:3].exp(), torch.full((3,), 3 * 1 / 3 + 50 / 4, dtype=torch.float32))


def test_extra_columns_are_negatives_except_the_row_own_item() -> None:
    task = InBatchSoftmaxTask(TwoTowerConfig(temperature=1.0))
    users = torch.eye(2)
    items = torch.eye(2)[[0, 1, 0, 1, 1]]  # two positives, then catalogue items 7, 8, 9
    logits = task.logits(users, items, torch.tensor([7, 8, 7, 8, 9]), torch.zeros(5))
    assert torch.isfinite(logits[0, 0]) and torch.isfinite(logits[1, 1])
    assert logits[0, 2] == float("-inf") and logits[1, 3] == float("-inf")  # its own item again
    assert torch.isfinite(logits[0, 3]) and torch.isfinite(logits[0, 4]) and torch.isfinite(logits[1, 2])


def _fit_biases(with_catalogue: bool) -> torch.Tensor:
    """Fit one score per item on same-day batches where every active item is consumed once.

    Items 0-4 are consumed on every one of 20 days, items 5-9 on every fourth day.
    """
    days = 20
    items, times = [], []
    for d in range(days):
        active = [j for j in range(10) if j < 5 or (d + j) % 4 == 0]
        items += active
        times += [d * DAY_NS + k for k in range(len(active))]
    item_t, time_t = torch.tensor(items), torch.tensor(times)
    bucket = torch.div(time_t, DAY_NS, rounding_mode="floor")
    log_q = example_log_q(item_t, time_t, n_items=10, bucket_days=1.0)
    snap = _item_rows(torch.arange(10).repeat(days))
    neg = CatalogueNegatives(snap, np.arange(days + 1) * 10, np.arange(days), bucket, item_t, per_batch=40)
    task = InBatchSoftmaxTask(TwoTowerConfig(temperature=1.0))
    bias = torch.zeros(10, requires_grad=True)
    opt = torch.optim.Adam([bias], lr=0.05)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        for d in range(days):
            idx = torch.nonzero(bucket == d).flatten()
            cols, q = item_t[idx], log_q[idx]
            if with_catalogue:
                rows, drawn, q = neg.draw(idx, cols, gen)
                cols = torch.cat([cols, rows.items[drawn]])
            users = torch.ones(len(idx), 1)
            loss = task(users, bias[cols].unsqueeze(1), cols, q)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    return bias.detach()


def test_catalogue_negatives_recover_the_popularity_same_day_batches_hide() -> None:
    """Consumed on 4 times the days, once a day: 4 times as likely, which in-batch negatives miss."""
    in_batch = _fit_biases(with_catalogue=False)
    assert abs(float(in_batch[:5].mean() - in_batch[5:].mean())) < 0.15
    mixed = _fit_biases(with_catalogue=True)
    assert float(mixed[:5].mean() - mixed[5:].mean()) == pytest.approx(math.log(4), abs=0.3)


@pytest.mark.parametrize("batch_days", [1.0, 0.0])
def test_training_adds_catalogue_items_of_the_batch_day_to_every_batch(
    tmp_path, monkeypatch, batch_days
) -> None:
    """With batches drawn across the window (batch_days 0) there is no day to draw from: no effect."""
    from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

    import embedding_jobs.two_tower_fit as fit_mod
    from embedding_jobs.train_two_tower import train_two_tower

    cfg = build_world(tmp_path)
    cfg.two_tower.epochs, cfg.two_tower.val_days, cfg.two_tower.batch_days = 1, 0, batch_days
    cfg.two_tower.catalogue_negatives = 16
    extra = 16 if batch_days else 0
    seen: list[tuple[int, int, torch.Tensor, torch.Tensor]] = []
    real_loss = fit_mod.TwoTowerModel.loss

    def loss(self, users, items, item_ids, log_q, types=None):  # type: ignore[no-untyped-def]
        seen.append((users.dense.shape[0], items.dense.shape[0], item_ids.cpu(), log_q.cpu()))
        return real_loss(self, users, items, item_ids, log_q, types)

    monkeypatch.setattr(fit_mod.TwoTowerModel, "loss", loss)
    with one_thread():
        result = train_two_tower(cfg, "v20261017t000006_ffffff", HGNN_VERSION, retrieve=pandas_point_in_time)
    assert seen and result.items_path.exists()
    for n_users, n_items, ids, q in seen:
        assert n_items == n_users + extra and len(ids) == len(q) == n_items
        assert torch.isfinite(q).all()
        # a column's expected copies: at least the uniform draw's M / N, at most all B + M columns
        if extra:
            assert float(q.exp().min()) >= 16 / 1_000 and float(q.exp().max()) <= n_users + 16


def test_published_times_are_exact_and_unknown_ones_always_there() -> None:
    import pandas as pd

    from embedding_jobs.two_tower_negatives import published_ns

    dim = pd.DataFrame(
        {
            "item_id": [3, 1, 2],
            "published_at": pd.to_datetime(["1970-01-02 06:00", None, "1970-01-01 00:00"], utc=True),
        }
    )
    assert published_ns(dim, np.array([1, 2, 3])).tolist() == [-1, 0, DAY_NS + 6 * 3_600 * 10**9]
    assert published_ns(dim.drop(columns="published_at"), np.array([1, 2])).tolist() == [-1, -1]
