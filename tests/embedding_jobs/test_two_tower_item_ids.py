"""Learned item ID vectors in the item tower (``two_tower.item_ids``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

from embedding_jobs.data.interactions import Catalogue, Encoders
from embedding_jobs.models.two_tower import ItemBatch, TowerSpec, TwoTowerModel
from embedding_jobs.train_two_tower import export_two_tower, first_consumed, id_rows, train_two_tower
from embedding_jobs.two_tower_inputs import Inputs, Rows
from gfm.config import TwoTowerConfig

SPEC = TowerSpec(
    n_types=2,
    n_countries=3,
    n_ages=3,
    n_genres=3,
    n_languages=2,
    hist_dim=4,
    text_dim=4,
    hgnn_dim=0,
    user_dense=0,
    item_dense=0,
    n_id_items=4,
)


def _items(ids: torch.Tensor | None) -> ItemBatch:
    n = 3 if ids is None else len(ids)
    g = torch.Generator().manual_seed(0)
    return ItemBatch(
        torch.zeros(n, 3, dtype=torch.long),
        torch.randn(n, 4, generator=g),
        torch.zeros(n, 0),
        torch.zeros(n, 0),
        ids,
    )


def test_id_vectors_start_at_zero_and_row_zero_stays_zero() -> None:
    model = TwoTowerModel(TwoTowerConfig(dim=8, hidden_dim=16), SPEC)
    tower = model.item_tower
    with_ids = _items(torch.tensor([0, 1, 3]))
    assert torch.allclose(tower(with_ids), tower(_items(None)))  # at the start: the features alone
    opt = torch.optim.SGD(tower.parameters(), lr=1.0)
    loss = tower(with_ids)[:, 0].sum()
    loss.backward()  # type: ignore[no-untyped-call]
    opt.step()
    assert tower.ids is not None
    assert torch.all(tower.ids.weight[0] == 0)  # items without an ID vector have none
    assert tower.ids.weight[1].abs().sum() > 0 and tower.ids.weight[3].abs().sum() > 0
    assert torch.all(tower.ids.weight[2] == 0)  # not in the batch


def test_id_rows_number_the_consumed_items_and_leave_the_rest_at_zero() -> None:
    catalogue = np.array([3, 5, 7, 9, 11])
    assert id_rows(catalogue, np.array([5, 9])).tolist() == [0, 1, 0, 2, 0]
    assert id_rows(catalogue, np.array([2, 3, 12])).tolist() == [2, 0, 0, 0, 0]
    assert id_rows(catalogue, None) is None


def _catalogue(item_ids: list[int]) -> Catalogue:
    n = len(item_ids)
    zeros = torch.zeros(n, 4)
    return Catalogue(np.array(item_ids), torch.zeros(n, dtype=torch.long), zeros, torch.zeros(n, 0), zeros)


def test_first_consumption_times_keep_every_nanosecond() -> None:
    cat = _catalogue([10, 20, 30])
    t = 1_790_000_000_123_456_789  # a 2026 instant: a float64 would round it by tens of ns
    since = first_consumed(cat, np.array([30, 10, 30]), np.array([t + 1, t + 7, t]))
    assert since.tolist() == [t + 7, np.iinfo(np.int64).max, t]


def test_a_row_sees_an_item_id_vector_only_after_its_first_consumption() -> None:
    cat = _catalogue([10, 20])
    cat.id_row = torch.tensor([1, 2])
    cat.id_since_ns = torch.tensor([100, np.iinfo(np.int64).max])  # item 20: never consumed
    enc = Encoders(types=["a"], countries=[], ages=[], genres=[], languages=[], user_dense=[], item_dense=[])
    inputs = Inputs(enc, cat, None, use_hgnn=False)  # type: ignore[arg-type]
    empty = torch.empty(0)
    rows = Rows(
        empty,
        torch.tensor([0, 0, 0, 1]),
        empty,
        empty,
        torch.zeros(4, 3, dtype=torch.long),
        torch.zeros(4, 0),
        torch.tensor([50, 100, 101, 10**18]),
    )
    batch = inputs.item_batch(rows, torch.arange(4))
    assert batch.ids is not None and batch.ids.tolist() == [0, 0, 1, 0]


def test_training_with_id_vectors_exports_and_reexports_the_same_vectors(tmp_path) -> None:
    cfg = build_world(tmp_path)
    cfg.two_tower.epochs, cfg.two_tower.val_days, cfg.two_tower.item_ids = 2, 0, True
    version = "v20261017t000007_eeeeee"
    with one_thread():
        result = train_two_tower(cfg, version, HGNN_VERSION, retrieve=pandas_point_in_time)
        items = pd.read_parquet(result.items_path)
        state = torch.load(result.checkpoint / "model.pt", weights_only=True)
        facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
        consumed = np.unique(facts.loc[facts["is_consumed"].astype(bool), "item_id"])
        assert state["id_items"] == consumed.tolist()
        assert state["spec"]["n_id_items"] == len(consumed) + 1
        table = state["state_dict"]["item_tower.ids.weight"]
        assert table.shape[0] == len(consumed) + 1 and torch.all(table[0] == 0)
        assert table[1:].abs().sum(dim=1).gt(0).float().mean() > 0.5  # trained
        before = np.stack(items["vector"].to_numpy())
        export_two_tower(cfg, version, retrieve=pandas_point_in_time)
    after = np.stack(pd.read_parquet(result.items_path)["vector"].to_numpy())
    assert np.allclose(after, before, atol=1e-6)
