"""The user tower's mean ID vector of its history (``two_tower.history_ids``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from test_histories_as_of import DAY0, _catalogue, _facts
from test_two_tower_item_ids import SPEC as ITEM_ID_SPEC
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

from embedding_jobs.data.histories import NEVER, build_histories, consumption_times
from embedding_jobs.data.interactions import Encoders, to_nanos
from embedding_jobs.models.two_tower import TwoTowerModel, TwoTowerRetriever, UserBatch
from embedding_jobs.train_two_tower import export_two_tower, train_two_tower
from embedding_jobs.two_tower_inputs import Inputs, Rows
from gfm.config import TwoTowerConfig

SPEC = replace(ITEM_ID_SPEC, n_id_items=5)  # rows 1-4 numbered


def test_consumed_items_match_a_brute_force_scan_latest_first_within_the_cap() -> None:
    rng = np.random.default_rng(5)
    n_users, n_items, cap = 8, 15, 2
    cat = _catalogue(rng.integers(0, 2, n_items).tolist())
    pairs = {
        (int(u), int(i))
        for u, i in zip(rng.integers(1, n_users, 90), rng.integers(0, n_items, 90), strict=True)
    }
    facts = _facts([(u, 100 + i, 1, 0, float(rng.integers(0, 5))) for u, i in sorted(pairs)])
    hist = build_histories(np.arange(1, n_users + 1), facts, cat, n_types=2)
    users = np.repeat(np.arange(1, n_users + 1), 4)
    at = torch.from_numpy(
        to_nanos(pd.Series([DAY0 + timedelta(days=d) for d in np.tile([0, 1.5, 3, 9], n_users)]))
    )
    at[::5] = NEVER
    items, counts = hist.consumed_items(torch.from_numpy(hist.rows(users)), at, cap)
    assert counts.sum() == len(items)
    times = to_nanos(consumption_times(facts))
    starts = np.cumsum(counts) - counts
    for r, (user, moment) in enumerate(zip(users, at.tolist(), strict=True)):
        got = items[starts[r] : starts[r] + counts[r]]
        for t in (0, 1):  # per type: the latest `cap` items consumed strictly before the moment
            mine = facts.assign(at=times).loc[(facts["user_id"] == user) & (times < moment)]
            rows = cat.rows(mine["item_id"])
            of_type = rows[cat.type_idx.numpy()[rows] == t]
            latest = sorted(of_type, key=lambda i: mine["at"].to_numpy()[list(rows).index(i)])[-cap:]
            assert sorted(got[cat.type_idx.numpy()[got] == t].tolist()) == sorted(latest), (user, moment, t)


def _users(ids: torch.Tensor | None, offsets: torch.Tensor | None) -> UserBatch:
    n = 3
    g = torch.Generator().manual_seed(1)
    return UserBatch(
        torch.zeros(n, 2, dtype=torch.long),
        torch.randn(n, 2, 4, generator=g),
        torch.ones(n, 2),
        torch.zeros(n, 2, 4),
        torch.zeros(n, 2),
        torch.zeros(n, 0),
        ids,
        offsets,
    )


def test_the_user_tower_adds_the_mean_id_vector_of_its_history_from_the_item_table() -> None:
    model = TwoTowerModel(TwoTowerConfig(dim=8, hidden_dim=16, item_ids=True, history_ids=True), SPEC)
    assert model.user_tower.ids is model.item_tower.ids is not None
    with torch.no_grad():
        model.item_tower.ids.weight[1:] = torch.randn(4, 8)  # type: ignore[union-attr]
    tower = model.user_tower
    ids, offsets = torch.tensor([1, 3, 4]), torch.tensor([0, 2, 2])  # users: {1, 3}, {}, {4}
    table = model.item_tower.ids.weight  # type: ignore[union-attr]
    mean = torch.stack([(table[1] + table[3]) / 2, torch.zeros(8), table[4]])
    emb = torch.cat(
        [tower.country(torch.zeros(3, dtype=torch.long)), tower.age(torch.zeros(3, dtype=torch.long))], 1
    )
    plain = tower.mlp(
        torch.cat(
            [emb, _users(None, None).hist.flatten(1), torch.log1p(torch.ones(3, 2)), torch.zeros(3, 10)], 1
        )
    )
    got = tower(_users(ids, offsets))
    assert torch.allclose(got, F.normalize(plain + mean, dim=1), atol=1e-6)
    assert torch.allclose(got[1], tower(_users(None, None))[1])  # an empty history adds nothing
    # encoding in chunks of one user slices the rows with them
    chunked = TwoTowerRetriever(model, torch.device("cpu"), chunk=1).encode_users(_users(ids, offsets))
    assert torch.allclose(chunked, got.detach(), atol=1e-6)


def test_without_the_setting_the_user_tower_has_no_table() -> None:
    model = TwoTowerModel(TwoTowerConfig(dim=8, hidden_dim=16, item_ids=True), SPEC)
    assert model.user_tower.ids is None and model.item_tower.ids is not None


def test_user_batches_list_the_consumed_items_id_rows_leaving_out_own_hidden_and_unnumbered() -> None:
    cat = _catalogue([0, 0, 1, 1])
    cat.id_row = torch.tensor([1, 2, 0, 3])  # item 102 has no ID vector
    # user 1 streams 100, 101, 102 and 103 on days 1-4; user 2 streams 101 on day 1
    facts = _facts(
        [(1, 100, 1, 0, 1), (1, 101, 1, 0, 2), (1, 102, 1, 0, 3), (1, 103, 1, 0, 4), (2, 101, 1, 0, 1)]
    )
    hist = build_histories(np.array([1, 2]), facts, cat, n_types=2)
    enc = Encoders(
        types=["a", "b"], countries=[], ages=[], genres=[], languages=[], user_dense=[], item_dense=[]
    )
    day = lambda d: int(to_nanos(pd.Series([DAY0 + timedelta(days=d)]))[0])  # noqa: E731
    rows = Rows(
        torch.tensor([0, 0, 1, 0]),
        torch.tensor([3, 1, 1, 0]),
        torch.zeros(4, 2, dtype=torch.long),
        torch.zeros(4, 0),
        torch.empty(0),
        torch.zeros(4, 0),
        torch.tensor([day(4), day(2.5), day(5), day(5)]),
    )
    as_of = Inputs(enc, cat, hist, use_hgnn=False, history_ids=True)
    batch = as_of.user_batch(
        rows, torch.arange(4), leave_out=True, hide=torch.tensor([False, False, False, True])
    )
    assert batch.ids is not None and batch.id_offsets is not None
    bags = np.split(batch.ids.numpy(), batch.id_offsets.numpy()[1:])
    assert [sorted(b.tolist()) for b in bags] == [[1, 2], [1, 2], [2], []]  # 102: no row; row 4: hidden
    window = Inputs(enc, cat, hist, use_hgnn=False, history_as_of=False, history_ids=True)
    batch = window.user_batch(rows, torch.arange(3), leave_out=True, hide=None)
    assert batch.ids is not None and batch.id_offsets is not None
    bags = np.split(batch.ids.numpy(), batch.id_offsets.numpy()[1:])
    assert [sorted(b.tolist()) for b in bags] == [[1, 2], [1, 3], []]  # the row's own item left out
    assert Inputs(enc, cat, hist, use_hgnn=False).user_batch(rows, torch.arange(4), True, None).ids is None


def test_training_with_history_ids_shares_the_table_and_reexports_the_same_user_vectors(tmp_path) -> None:
    cfg = build_world(tmp_path)
    cfg.two_tower.epochs, cfg.two_tower.val_days = 2, 0
    cfg.two_tower.item_ids = cfg.two_tower.history_ids = True
    version = "v20261017t000008_ffffff"
    with one_thread():
        result = train_two_tower(cfg, version, HGNN_VERSION, retrieve=pandas_point_in_time)
        state = torch.load(result.checkpoint / "model.pt", weights_only=True)
        weights = state["state_dict"]
        assert torch.equal(weights["user_tower.ids.weight"], weights["item_tower.ids.weight"])
        before = np.stack(pd.read_parquet(result.users_path)["vector"].to_numpy())
        export_two_tower(cfg, version, retrieve=pandas_point_in_time)
    after = np.stack(pd.read_parquet(result.users_path)["vector"].to_numpy())
    assert np.allclose(after, before, atol=1e-6)
