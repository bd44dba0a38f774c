"""The parts that put co-consumption into the HGNN's vectors: per-item vectors, degree-weighted
negatives, the sampled softmax, and the ranking health check (mean aggregation is checked against
PyG in test_hgnn.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hgnn_fixtures import tiny_config, write_marts

from embedding_jobs.data.graph import build_graph
from embedding_jobs.data.link_sampler import LinkPart, LinkSampler
from embedding_jobs.device import precision_context
from embedding_jobs.hgnn_check import heldout_item_ranking
from embedding_jobs.models.hgnn import HGNN, HGNNSpec
from embedding_jobs.train_hgnn import _part_loss, fit_hgnn, holdout_edges, log_prior
from gfm.config import HGNNConfig
from gfm.errors import StageError


def test_negatives_follow_degree_to_the_power_and_uniform_at_zero() -> None:
    # node 0 has degree 8, nodes 1..8 degree 1, node 9 none
    pairs = {("a", "a"): (np.zeros(8, np.int64), np.arange(1, 9, dtype=np.int64))}
    common = {"batch_size": 4, "negatives": 1, "balanced": False, "seed": 0}
    weighted = LinkSampler(pairs, {"a": 10}, negative_power=0.75, **common)  # type: ignore[arg-type]
    draws = weighted.draw_negatives("a", (200_000,))
    share = np.bincount(draws, minlength=10) / len(draws)
    expected = np.array([8**0.75] + [1.0] * 8 + [0.0])
    np.testing.assert_allclose(share, expected / expected.sum(), atol=0.01)
    uniform = LinkSampler(pairs, {"a": 10}, negative_power=0.0, **common)  # type: ignore[arg-type]
    share = np.bincount(uniform.draw_negatives("a", (200_000,)), minlength=10) / 200_000
    np.testing.assert_allclose(share, np.full(10, 0.1), atol=0.01)


def test_shared_negatives_are_one_vector_per_destination_type() -> None:
    pairs = {("a", "b"): (np.arange(6, dtype=np.int64), np.arange(6, dtype=np.int64))}
    sampler = LinkSampler(
        pairs, {"a": 6, "b": 6}, batch_size=6, negatives=2, balanced=False, seed=0, shared=5
    )
    batch = next(iter(sampler.epoch()))
    negs = {p.dst_type: p.neg for p in batch.parts}
    assert all(n.shape == (5,) for n in negs.values())
    seeds, positions = batch.seeds()
    for part, (_, _, neg) in zip(batch.parts, positions, strict=True):
        torch.testing.assert_close(seeds[part.dst_type][neg], part.neg)


def _spec(**kw: object) -> HGNNSpec:
    base: dict[str, object] = {
        "node_types": ["a"],
        "edge_types": [("a", "co", "a")],
        "in_dim": 3,
        "hidden_dim": 4,
        "out_dim": 4,
        "num_nodes": {"a": 4},
        "item_id_dim": 2,
    }
    base.update(kw)
    return HGNNSpec(**base)  # type: ignore[arg-type]


def test_items_without_training_edges_read_a_zero_id_vector_and_remap_keeps_known_rows() -> None:
    torch.manual_seed(0)
    model = HGNN(_spec()).eval()
    model.set_has_id("a", torch.tensor([True, True, False, True]))
    feats = {"a": torch.ones(4, 3)}
    x = model.input_features("a", torch.arange(4), feats)
    assert x.shape == (4, 5)
    assert torch.equal(x[2, 3:], torch.zeros(2)) and x[0, 3:].abs().sum() > 0
    trained = model.item_tables["a"].weight.detach().clone()
    # the catalogue now: item 11 gone, item 15 new; the rows follow the ids
    model.remap_items({"a": np.array([10, 11, 12, 13])}, {"a": np.array([10, 12, 13, 15])})
    x = model.input_features("a", torch.arange(4), feats)
    torch.testing.assert_close(x[0, 3:], trained[0])
    torch.testing.assert_close(x[2, 3:], trained[3])
    assert torch.equal(x[1, 3:], torch.zeros(2))  # 12 had no training edge
    assert torch.equal(x[3, 3:], torch.zeros(2))  # 15 is new


def test_id_dropout_zeroes_a_share_of_id_vectors_only_in_training() -> None:
    torch.manual_seed(0)
    model = HGNN(_spec(num_nodes={"a": 2000}), id_dropout=0.5)
    nodes, feats = torch.arange(2000), {"a": torch.ones(2000, 3)}
    kept = (model.input_features("a", nodes, feats)[:, 3:].abs().sum(1) > 0).float().mean()
    assert 0.45 < float(kept) < 0.55
    model.eval()
    assert (model.input_features("a", nodes, feats)[:, 3:].abs().sum(1) > 0).all()


def test_health_check_ranks_true_partners_and_separates_a_model_from_popularity(tmp_path: Path) -> None:
    items, _ = write_marts(tmp_path, edges_per_item=5)
    graph = build_graph(tmp_path)
    held_rows = holdout_edges(graph, 0)
    held = {k: (graph.pairs[k][0][i], graph.pairs[k][1][i]) for k, i in held_rows.items()}
    train = graph.without_pairs(held_rows)
    # vectors that know each item's topic (the truth of this toy graph) and nothing else
    topic = {int(r.item_id): int(r.topic) for r in items.itertuples()}
    emb = {
        t: torch.nn.functional.one_hot(torch.tensor([topic[int(i)] for i in ids]), 4).float()
        for t, ids in graph.item_ids.items()
    }
    check = heldout_item_ranking(emb, train, held, k=10)
    assert check["n_queries"] > 0
    assert check["hr"]["HGNN"] > check["hr"]["Popularity"] + 0.2
    assert set(check["by_relation"]) >= {"audiobook->podcast", "podcast->audiobook"}


@pytest.mark.parametrize("loss", ["softmax", "margin"])
def test_training_loss_falls_with_each_loss(tmp_path: Path, loss: str) -> None:
    write_marts(tmp_path / "marts")
    cfg = tiny_config(tmp_path, id_embeddings=True, loss=loss, epochs=4)
    graph = build_graph(cfg.marts_dir)
    _, stats = fit_hgnn(graph, cfg.hgnn, torch.device("cpu"), show_progress=False)
    assert stats.epoch_losses[-1] < stats.epoch_losses[0]


def test_isolated_seeds_lose_every_message_at_every_hop_and_the_rest_keep_theirs(tmp_path: Path) -> None:
    from embedding_jobs.data.sampler import NeighborSampler
    from embedding_jobs.train_hgnn import isolate_seeds

    write_marts(tmp_path)
    graph = build_graph(tmp_path)
    seeds = {t: torch.arange(n) for t, n in graph.num_nodes.items()}

    def sample() -> list:  # type: ignore[type-arg]
        return NeighborSampler(graph.csr, [5, 3], generator=torch.Generator().manual_seed(0)).sample(seeds)

    before, after = sample(), sample()
    isolate_seeds(after, seeds, 0.5, torch.Generator().manual_seed(1))
    for t, nodes in seeds.items():
        n = nodes.numel()
        # a seed is dropped if it has no message left anywhere; it must have lost them all
        kept = torch.stack([b.mask[et][:n].any(1) for b in after for et in b.mask if et[2] == t]).any(0)
        had = torch.stack([b.mask[et][:n].any(1) for b in before for et in b.mask if et[2] == t]).any(0)
        assert 0.3 < float((had & ~kept).sum()) / float(had.sum()) < 0.7
        for b_before, b_after in zip(before, after, strict=True):
            for et in (et for et in b_after.mask if et[2] == t):
                assert torch.equal(b_after.mask[et][:n][kept], b_before.mask[et][:n][kept])
                assert not b_after.mask[et][:n][~kept].any()


def test_an_isolated_seed_is_embedded_as_the_export_embeds_a_new_item(tmp_path: Path) -> None:
    """DropoutNet's simulation must hide the sketch too: a new item's sketch is zero at export."""
    from dataclasses import replace

    from embedding_jobs.data.sampler import NeighborSampler
    from embedding_jobs.data.sketch import with_sketch
    from embedding_jobs.train_hgnn import _spec, embed_all, isolate_seeds

    write_marts(tmp_path)
    gen = torch.Generator().manual_seed(3)
    plain = build_graph(tmp_path)
    plain = replace(plain, features={t: torch.randn(n, 8, generator=gen) for t, n in plain.num_nodes.items()})
    cfg = tiny_config(tmp_path, sketch_dim=16, fanouts=[5, 3])
    graph = with_sketch(plain, 16)
    model = HGNN(_spec(graph, cfg.hgnn)).eval()
    seeds = {t: torch.arange(n) for t, n in graph.num_nodes.items()}
    blocks = NeighborSampler(graph.csr, [5, 3], generator=gen).sample(seeds)
    dropped = isolate_seeds(blocks, seeds, 0.5, gen)
    alone = plain.without_pairs({key: np.arange(len(a)) for key, (a, _) in plain.pairs.items()})
    new_items = embed_all(model, alone, torch.device("cpu"))
    with torch.no_grad():
        trained = model(blocks, graph.features, dropped)
        sketch_seen = model(blocks, graph.features)  # messages dropped, the sketch left in
    # (the other seeds see a dropped seed as a new item too: it is one of their neighbours)
    for t, drop in dropped.items():
        assert 0 < int(drop.sum()) < len(drop)
        torch.testing.assert_close(trained[t][drop], new_items[t][drop])
        has_sketch = graph.features[t][:, -16:].abs().sum(1) > 0
        assert not torch.allclose(sketch_seen[t][drop & has_sketch], new_items[t][drop & has_sketch])


def test_log_prior_is_the_scaled_log_of_each_nodes_co_user_total(tmp_path: Path) -> None:
    write_marts(tmp_path / "marts")
    cfg = tiny_config(tmp_path, popularity_adjust=0.5)
    graph = build_graph(cfg.marts_dir)
    assert graph.weights is not None
    prior = log_prior(graph, cfg.hgnn, torch.device("cpu"))
    assert prior is not None
    for t, ids in graph.item_ids.items():  # brute force: every edge, both ends
        total = np.zeros(len(ids))
        for key, (a, b) in graph.pairs.items():
            for i, j, w in zip(a, b, graph.weights[key], strict=True):
                if key[0] == t:
                    total[i] += w
                if key[1] == t:
                    total[j] += w
        np.testing.assert_allclose(prior[t].numpy(), 0.5 * np.log1p(total), rtol=1e-6)
    off = tiny_config(tmp_path, popularity_adjust=0.0)
    assert log_prior(graph, off.hgnn, torch.device("cpu")) is None


def test_popularity_adjusted_softmax_adds_the_prior_to_every_candidate_logit() -> None:
    torch.manual_seed(0)
    emb = {"b": torch.nn.functional.normalize(torch.randn(6, 4), dim=1)}
    part = LinkPart("b", "b", torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([3, 4, 5]))
    positions = (part.src, part.dst, part.neg)
    prior = {"b": torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])}
    hcfg = HGNNConfig(loss="softmax", temperature=0.1)
    got = _part_loss(emb, part, positions, hcfg, prior)
    u = emb["b"][part.src]
    cand = torch.tensor([[2, 3, 4, 5], [3, 3, 4, 5]])  # positive first, then the shared negatives
    logits = (u.unsqueeze(1) * emb["b"][cand]).sum(-1) / 0.1 + prior["b"][cand]
    logits[1, 1] = float("-inf")  # row 1's positive (3) is also a shared negative: masked
    expected = torch.nn.functional.cross_entropy(logits, torch.zeros(2, dtype=torch.long), reduction="none")
    torch.testing.assert_close(got, expected)
    # without a prior the same candidates score by the cosine alone, so the loss differs
    assert not torch.allclose(_part_loss(emb, part, positions, hcfg), got)


def test_bf16_training_learns_as_fp32_does_and_keeps_float32_weights_and_vectors(tmp_path: Path) -> None:
    write_marts(tmp_path / "marts")
    graph = build_graph(tmp_path / "marts")
    graph = replace(graph, features={t: torch.zeros(n, 0) for t, n in graph.num_nodes.items()})
    losses = {}
    for precision in ("fp32", "bf16"):
        cfg = tiny_config(tmp_path, text_features=False, sketch_dim=64, epochs=6, precision=precision)
        model, stats = fit_hgnn(graph, cfg.hgnn, torch.device("cpu"), show_progress=False)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        losses[precision] = stats.epoch_losses
    assert losses["bf16"][-1] < 0.8 * losses["bf16"][0]
    # the same trajectory up to bf16's rounding: each epoch's loss within 1% of fp32's (.15% measured)
    for bf16, fp32 in zip(losses["bf16"], losses["fp32"], strict=True):
        assert abs(bf16 - fp32) < 0.01 * fp32


def test_precision_context_runs_products_in_bf16_only_when_asked() -> None:
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with precision_context(torch.device("cpu"), "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    with precision_context(torch.device("cpu"), "fp32"):
        assert (a @ b).dtype == torch.float32
    with pytest.raises(StageError, match="precision"):
        precision_context(torch.device("cpu"), "fp16")
