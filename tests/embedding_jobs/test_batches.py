"""Contemporaneous two-tower batches and their per-bucket logQ correction."""

from __future__ import annotations

import torch

from embedding_jobs.data.batches import DAY_NS, epoch_batches, example_log_q


def test_log_q_is_the_item_share_of_its_bucket_or_of_the_window() -> None:
    # day 0: items 0, 0, 1, 2; day 1: items 0, 3
    items = torch.tensor([0, 0, 1, 2, 0, 3])
    times = torch.tensor([0, 1, 2, 3, DAY_NS + 5, DAY_NS + 6])
    by_day = example_log_q(items, times, n_items=4, bucket_days=1.0).exp()
    assert torch.allclose(by_day, torch.tensor([2 / 4, 2 / 4, 1 / 4, 1 / 4, 1 / 2, 1 / 2]))
    window = example_log_q(items, times, n_items=4, bucket_days=0.0).exp()
    # bucket_days 0 is the old correction: one share per item over every example
    freq = torch.bincount(items, minlength=4).float()
    assert torch.allclose(window, (freq / freq.sum())[items])


def test_batches_hold_contemporaneous_examples_and_cover_the_rows() -> None:
    n, batch = 16000, 100  # 200 training rows a day: a batch spans at most two days
    gen = torch.Generator().manual_seed(0)
    times = torch.randint(0, 40 * DAY_NS, (n,), generator=gen)
    train = torch.arange(0, n, 2)  # a subset, as the selection run trains on older rows
    batches = epoch_batches(train, times, batch, 1.0, torch.Generator().manual_seed(1))
    assert all(len(b) == batch for b in batches) and len(batches) == len(train) // batch
    seen = torch.cat(batches)
    assert len(set(seen.tolist())) == len(seen) and set(seen.tolist()) <= set(train.tolist())
    days = [torch.div(times[b] - times.min(), DAY_NS, rounding_mode="floor") for b in batches]
    assert all(int(d.max() - d.min()) <= 1 for d in days)  # one day, or two neighbouring days
    assert sorted(int(d.min()) for d in days) != [int(d.min()) for d in days]  # batch order shuffled
    again = epoch_batches(train, times, batch, 1.0, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))  # seeded


def test_zero_days_keeps_the_old_window_wide_shuffle() -> None:
    gen = torch.Generator().manual_seed(3)
    times = torch.randint(0, 40 * DAY_NS, (1000,), generator=gen)
    train = torch.arange(1000)
    batches = epoch_batches(train, times, 100, 0.0, torch.Generator().manual_seed(5))
    order = train[torch.randperm(1000, generator=torch.Generator().manual_seed(5))]
    assert torch.equal(torch.cat(batches), order)  # the loop's old order, batch after batch
    days = torch.div(times[batches[0]], DAY_NS, rounding_mode="floor")
    assert int(days.max() - days.min()) > 10  # spread across the window


def test_training_draws_same_day_batches_with_the_per_day_correction(tmp_path, monkeypatch) -> None:
    from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

    import embedding_jobs.two_tower_fit as fit_mod
    from embedding_jobs.train_two_tower import train_two_tower

    cfg = build_world(tmp_path)
    cfg.two_tower.epochs, cfg.two_tower.val_days, cfg.two_tower.batch_days = 1, 0, 1.0
    cfg.two_tower.catalogue_negatives = 0  # in-batch negatives alone (test_catalogue_negatives.py: with)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []  # (batch rows, their log q)
    real_batches, real_loss = fit_mod.epoch_batches, fit_mod.TwoTowerModel.loss
    times: list[torch.Tensor] = []

    def batches(train, times_ns, batch_size, bucket_days, generator):  # type: ignore[no-untyped-def]
        assert bucket_days == 1.0
        times.append(times_ns)
        out = real_batches(train, times_ns, batch_size, bucket_days, generator)
        seen.extend((b, torch.empty(0)) for b in out)
        return out

    def loss(self, users, items, item_ids, log_q, types=None):  # type: ignore[no-untyped-def]
        seen.append((torch.empty(0), log_q.cpu()))
        return real_loss(self, users, items, item_ids, log_q, types)

    monkeypatch.setattr(fit_mod, "epoch_batches", batches)
    monkeypatch.setattr(fit_mod.TwoTowerModel, "loss", loss)
    with one_thread():
        train_two_tower(cfg, "v20261017t000005_eeeeee", HGNN_VERSION, retrieve=pandas_point_in_time)
    rows = [b for b, _ in seen if len(b)]
    qs = [q for b, q in seen if not len(b)]
    assert rows and len(rows) == len(qs)
    t = times[0]
    for b in rows:  # every batch within two neighbouring days of the window
        days = torch.div(t[b] - t.min(), DAY_NS, rounding_mode="floor")
        assert int(days.max() - days.min()) <= 1
    # the correction is per day: an item's share among its day's examples, at most 1
    assert all(float(q.max()) <= 0.0 for q in qs)
    assert not all(torch.allclose(q, qs[0]) for q in qs[1:])
