"""The L2 penalty on the ID vectors each training example reads (``two_tower.id_reg``)."""

from __future__ import annotations

import pytest
import torch
from test_two_tower_history_ids import SPEC, _users
from test_two_tower_item_ids import _items
from tt_fixtures import HGNN_VERSION, build_world, one_thread, pandas_point_in_time

from embedding_jobs.models.two_tower import TwoTowerModel
from embedding_jobs.train_two_tower import train_two_tower
from gfm.config import TwoTowerConfig


def _model(**settings: object) -> TwoTowerModel:
    model = TwoTowerModel(TwoTowerConfig(dim=8, hidden_dim=16, item_ids=True, **settings), SPEC)  # type: ignore[arg-type]
    with torch.no_grad():
        model.item_tower.ids.weight[1:] = torch.randn(4, 8, generator=torch.Generator().manual_seed(2))  # type: ignore[union-attr]
    return model


def test_the_penalty_is_each_examples_positive_and_history_mean_of_squared_norms() -> None:
    model = _model(history_ids=True)
    table = model.item_tower.ids.weight.detach()  # type: ignore[union-attr]
    sq = table.pow(2).sum(1)
    # three examples: positives rows 2, 0 (no ID vector), 4; then two catalogue negatives, rows 1, 3
    items = _items(torch.tensor([2, 0, 4, 1, 3]))
    users = _users(torch.tensor([1, 3, 4]), torch.tensor([0, 2, 2]))  # histories {1, 3}, {}, {4}
    positives = (sq[2] + 0.0 + sq[4]) / 3  # the negatives belong to no example
    histories = ((sq[1] + sq[3]) / 2 + 0.0 + sq[4]) / 3
    assert torch.allclose(model.id_penalty(users, items), positives + histories)
    # without history_ids the user tower reads no vector, so only the positives count
    assert torch.allclose(_model().id_penalty(users, items), positives)
    # per row: every numbered row once, whatever the batch reads
    assert torch.allclose(_model(id_reg_per="row").id_penalty(users, items), sq[1:].mean())


def test_the_loss_adds_the_penalty_times_the_setting_and_nothing_at_zero() -> None:
    items = _items(torch.tensor([2, 1, 4]))
    users = _users(torch.tensor([1, 3, 4]), torch.tensor([0, 2, 2]))
    args = (users, items, torch.tensor([10, 11, 12]), torch.zeros(3))
    plain, reg = _model(history_ids=True), _model(history_ids=True, id_reg=0.5)
    reg.load_state_dict(plain.state_dict())
    torch.manual_seed(0)
    expected = plain.loss(*args) + 0.5 * plain.id_penalty(users, items)
    torch.manual_seed(0)
    assert torch.allclose(reg.loss(*args), expected)
    assert plain.id_penalty(users, items) > 0


@pytest.mark.parametrize("per", ["example", "row"])
def test_training_with_the_penalty_keeps_the_id_vectors_shorter(tmp_path, per: str) -> None:
    cfg = build_world(tmp_path)
    cfg.two_tower.id_reg_per = per  # type: ignore[assignment]
    cfg.two_tower.epochs, cfg.two_tower.val_days = 4, 0
    cfg.two_tower.item_ids = cfg.two_tower.history_ids = True
    norms = []
    for n, reg in enumerate((0.0, 10.0)):
        cfg.two_tower.id_reg = reg
        with one_thread():
            result = train_two_tower(
                cfg, f"v20261017t00001{n}_ffffff", HGNN_VERSION, retrieve=pandas_point_in_time
            )
        state = torch.load(result.checkpoint / "model.pt", weights_only=True)
        norms.append(state["state_dict"]["item_tower.ids.weight"][1:].norm(dim=1).mean().item())
    assert norms[0] > 0 and norms[1] < 0.5 * norms[0], norms
