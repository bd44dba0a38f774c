"""The two-tower model on its own: shapes, normalisation, the logQ correction, duplicate masking."""

from __future__ import annotations

import math

import torch
from tt_fixtures import one_thread

from embedding_jobs.models.two_tower import (
    InBatchSoftmaxTask,
    ItemBatch,
    TowerSpec,
    TwoTowerModel,
    UserBatch,
    repeated_columns,
)
from gfm.config import TwoTowerConfig

SPEC = TowerSpec(
    n_types=2,
    n_countries=5,
    n_ages=3,
    n_genres=4,
    n_languages=2,
    hist_dim=8,
    text_dim=16,
    hgnn_dim=8,
    user_dense=3,
    item_dense=2,
)


def _batches(n: int, seed: int = 0) -> tuple[UserBatch, ItemBatch]:
    g = torch.Generator().manual_seed(seed)
    users = UserBatch(
        cat=torch.randint(0, 3, (n, 2), generator=g),
        hist=torch.randn(n, 2, 8, generator=g),
        hist_count=torch.randint(0, 5, (n, 2), generator=g).float(),
        weak=torch.randn(n, 2, 8, generator=g),
        weak_count=torch.randint(0, 3, (n, 2), generator=g).float(),
        dense=torch.randn(n, 3, generator=g),
    )
    items = ItemBatch(
        cat=torch.stack(
            [
                torch.randint(0, 2, (n,), generator=g),
                torch.randint(0, 4, (n,), generator=g),
                torch.randint(0, 2, (n,), generator=g),
            ],
            dim=1,
        ),
        text=torch.randn(n, 16, generator=g),
        hgnn=torch.randn(n, 8, generator=g),
        dense=torch.randn(n, 2, generator=g),
    )
    return users, items


def test_towers_output_128d_unit_vectors():
    model = TwoTowerModel(TwoTowerConfig(), SPEC)
    users, items = _batches(7)
    u, i = model.user_tower(users), model.item_tower(items)
    assert u.shape == (7, 128) and i.shape == (7, 128)
    assert torch.allclose(u.norm(dim=1), torch.ones(7), atol=1e-5)
    assert torch.allclose(i.norm(dim=1), torch.ones(7), atol=1e-5)


def test_logq_correction_lowers_popular_items_logits_by_their_log_frequency():
    users = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    items = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    ids = torch.arange(4)
    log_q = torch.log(torch.tensor([0.7, 0.1, 0.1, 0.1]))
    plain = InBatchSoftmaxTask(TwoTowerConfig(logq_correction=False, temperature=0.5)).logits(
        users, items, ids, log_q
    )
    fixed = InBatchSoftmaxTask(TwoTowerConfig(logq_correction=True, temperature=0.5)).logits(
        users, items, ids, log_q
    )
    assert torch.allclose(plain, users @ items.T / 0.5)
    # every column is shifted by -log q of its item: the popular item (column 0) gains least
    assert torch.allclose(fixed - plain, -log_q.expand(4, 4))
    assert math.isclose(float((fixed - plain)[0, 0]), -math.log(0.7), rel_tol=1e-5)


def test_a_repeated_item_is_never_its_own_negative():
    task = InBatchSoftmaxTask(TwoTowerConfig())
    ids = torch.tensor([5, 9, 5])
    logits = task.logits(torch.eye(3), torch.eye(3), ids, torch.zeros(3))
    assert torch.isinf(logits[0, 2]) and torch.isinf(logits[2, 0])
    assert torch.isfinite(logits.diagonal()).all() and torch.isfinite(logits[0, 1])


def test_repeated_columns_are_exactly_the_pairs_a_brute_force_comparison_finds():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 12, (40,), generator=gen)  # many repeats among 40 columns
    row, col = repeated_columns(ids, 25)
    same = ids[:25].unsqueeze(1) == ids.unsqueeze(0)
    same[torch.arange(25), torch.arange(25)] = False
    assert sorted(zip(row.tolist(), col.tolist(), strict=True)) == sorted(map(tuple, same.nonzero().tolist()))


def test_the_fused_logits_and_their_gradients_are_the_plain_formula():
    """The one-product form gives what scale, subtract and mask over the whole matrix give."""
    gen = torch.Generator().manual_seed(1)
    users = torch.nn.functional.normalize(torch.randn(30, 8, generator=gen), dim=1).requires_grad_()
    items = torch.nn.functional.normalize(torch.randn(50, 8, generator=gen), dim=1).requires_grad_()
    ids, log_q = torch.randint(0, 20, (50,), generator=gen), torch.randn(50, generator=gen)
    task = InBatchSoftmaxTask(TwoTowerConfig(temperature=0.07))
    fused = task.logits(users, items, ids, log_q)
    same = ids[:30].unsqueeze(1) == ids.unsqueeze(0)
    same[torch.arange(30), torch.arange(30)] = False
    plain = (users @ items.T / 0.07 - log_q.unsqueeze(0)).masked_fill(same, float("-inf"))
    assert same.any() and torch.equal(torch.isinf(fused), torch.isinf(plain))
    assert torch.allclose(fused[~same], plain[~same], atol=1e-5)
    target = torch.arange(30)
    grads = [
        torch.autograd.grad(torch.nn.functional.cross_entropy(x, target), (users, items))
        for x in (fused, plain)
    ]
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_training_steps_lower_the_loss_deterministically():
    def run() -> list[float]:
        torch.manual_seed(3)
        model = TwoTowerModel(TwoTowerConfig(hidden_dim=32), SPEC)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        users, items = _batches(16, seed=1)
        losses = []
        for _ in range(20):
            loss = model.loss(users, items, torch.arange(16), torch.full((16,), -math.log(16)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    with one_thread():
        first, second = run(), run()
    assert first == second
    assert first[-1] < 0.5 * first[0]


def test_hgnn_skip_scores_the_hgnn_similarity_when_the_mlps_are_silent():
    """With both MLPs' last layers zeroed, the score is the cosine of the user's mean HGNN vector
    (over every consumed item of every type) and the item's HGNN vector: HGNN-kNN."""
    model = TwoTowerModel(TwoTowerConfig(hgnn_skip=True), SPEC)
    assert model.user_tower.skip is model.item_tower.skip  # one map for both towers
    for tower in (model.user_tower, model.item_tower):
        last = tower.mlp[-1]
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
    users, items = _batches(6, seed=3)
    users.hist_count[0] = 0.0  # a user without history: no skip term, a zero vector
    scores = model.user_tower(users) @ model.item_tower(items).T
    hgnn = users.hist[:, :, -SPEC.hgnn_dim :]
    mean = (hgnn * users.hist_count.unsqueeze(2)).sum(1) / users.hist_count.sum(1).clamp(min=1).unsqueeze(1)
    expected = torch.nn.functional.normalize(mean, dim=1) @ torch.nn.functional.normalize(items.hgnn, dim=1).T
    assert torch.allclose(scores[1:], expected[1:], atol=1e-5)
    assert torch.allclose(scores[0], torch.zeros(6), atol=1e-6)


def test_hgnn_skip_is_absent_without_hgnn_inputs_or_when_off():
    no_hgnn = TowerSpec(**{**SPEC.to_dict(), "hgnn_dim": 0, "hist_dim": 16})
    assert TwoTowerModel(TwoTowerConfig(hgnn_skip=True), no_hgnn).user_tower.skip is None
    assert TwoTowerModel(TwoTowerConfig(hgnn_skip=False), SPEC).item_tower.skip is None


def test_skip_start_scale_starts_training_near_the_hgnn_similarity():
    """A small start scale makes the untrained score HGNN-kNN's up to about that fraction; at the
    default the MLPs' random outputs dominate it; without the skip path nothing is rescaled."""
    users, items = _batches(6, seed=3)
    hgnn = users.hist[:, :, -SPEC.hgnn_dim :]
    mean = (hgnn * users.hist_count.unsqueeze(2)).sum(1) / users.hist_count.sum(1).clamp(min=1).unsqueeze(1)
    expected = torch.nn.functional.normalize(mean, dim=1) @ torch.nn.functional.normalize(items.hgnn, dim=1).T
    has_history = users.hist_count.sum(1) > 0

    def gap(scale: float) -> float:
        torch.manual_seed(0)
        model = TwoTowerModel(TwoTowerConfig(hgnn_skip=True, skip_start_scale=scale), SPEC)
        scores = model.user_tower(users) @ model.item_tower(items).T
        return float((scores - expected)[has_history].abs().max())

    assert gap(1e-3) < 0.01
    assert gap(1.0) > 0.1
    torch.manual_seed(0)
    plain = TwoTowerModel(TwoTowerConfig(hgnn_skip=False, skip_start_scale=1e-3), SPEC)
    torch.manual_seed(0)
    default = TwoTowerModel(TwoTowerConfig(hgnn_skip=False), SPEC)
    assert torch.equal(plain.user_tower.mlp[-1].weight, default.user_tower.mlp[-1].weight)
