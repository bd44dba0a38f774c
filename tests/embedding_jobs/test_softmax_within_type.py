"""The two-tower's softmax over the columns of each example's own content type."""

from __future__ import annotations

import torch

from embedding_jobs.models.two_tower import InBatchSoftmaxTask
from gfm.config import TwoTowerConfig


def test_a_row_sees_only_columns_of_its_own_type() -> None:
    torch.manual_seed(0)
    task = InBatchSoftmaxTask(TwoTowerConfig(temperature=1.0))
    users, items = torch.randn(3, 4), torch.randn(5, 4)
    ids, types = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([0, 1, 0, 1, 0])
    logits = task.logits(users, items, ids, torch.zeros(5), types)
    finite = torch.isfinite(logits)
    assert finite.tolist() == [
        [True, False, True, False, True],
        [False, True, False, True, False],
        [True, False, True, False, True],
    ]
    everything = task.logits(users, items, ids, torch.zeros(5))
    assert torch.isfinite(everything).all()  # without types nothing is masked
    assert torch.equal(logits[finite], everything[finite])  # the kept columns are unchanged


def test_the_loss_ignores_items_of_other_types() -> None:
    """Moving a column of another type changes the cross-type loss and not the within-type one."""
    torch.manual_seed(0)
    task = InBatchSoftmaxTask(TwoTowerConfig(temperature=1.0))
    users, items = torch.randn(3, 3), torch.randn(6, 3)  # 3 positives, then 3 catalogue columns
    ids, types, q = torch.arange(6), torch.tensor([0, 0, 1, 1, 0, 1]), torch.randn(6)
    moved = items.clone()
    moved[5] = users[0] * 10  # a column of type 1 that row 0 (type 0) would love
    assert task(users, moved, ids, q) > task(users, items, ids, q) + 1.0
    before, after = task.logits(users, items, ids, q, types), task.logits(users, moved, ids, q, types)
    assert torch.equal(before[:2], after[:2])  # rows of type 0 never see it
    within = task(users, items, ids, q, types)
    # by hand: each row's softmax over the columns of its own type, corrected by their log q
    logits = users @ items.T - q
    expected = torch.stack(
        [-torch.log_softmax(logits[r].masked_fill(types != types[r], float("-inf")), 0)[r] for r in range(3)]
    ).mean()
    assert torch.allclose(within, expected)


def test_training_passes_each_column_type(tmp_path, monkeypatch) -> None:
    """The columns' types reach the loss, catalogue negatives included, only when switched on."""
    from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

    import embedding_jobs.two_tower_fit as fit_mod
    from embedding_jobs.train_two_tower import train_two_tower
    from embedding_jobs.two_tower_inputs import Inputs

    cfg = build_world(tmp_path)
    cfg.two_tower.epochs, cfg.two_tower.val_days, cfg.two_tower.catalogue_negatives = 1, 0, 16
    seen: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    catalogues: list[torch.Tensor] = []
    real_loss, real_batch = fit_mod.TwoTowerModel.loss, Inputs.item_batch

    def loss(self, users, items, item_ids, log_q, types=None):  # type: ignore[no-untyped-def]
        seen.append((item_ids.cpu(), None if types is None else types.cpu()))
        return real_loss(self, users, items, item_ids, log_q, types)

    def item_batch(self, rows, idx, isolate=None):  # type: ignore[no-untyped-def]
        catalogues.append(self.cat.type_idx)
        return real_batch(self, rows, idx, isolate)

    monkeypatch.setattr(fit_mod.TwoTowerModel, "loss", loss)
    monkeypatch.setattr(Inputs, "item_batch", item_batch)
    for on in (True, False):
        cfg.two_tower.softmax_within_type = on
        seen.clear()
        with one_thread():
            train_two_tower(
                cfg, f"v20261017t00000{int(on)}_abcabc", HGNN_VERSION, retrieve=pandas_point_in_time
            )
        assert seen
        type_idx = catalogues[-1]
        for ids, types in seen:
            if not on:
                assert types is None
                continue
            assert types is not None and torch.equal(types, type_idx[ids])
            assert len(set(types.tolist())) > 1  # both types in a batch, so the mask bites
