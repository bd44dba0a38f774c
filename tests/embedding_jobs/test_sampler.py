from __future__ import annotations

import pytest
import torch

from embedding_jobs.data.sampler import CSR, NeighborSampler, all_neighbors, sample_neighbors


def _csr(neighbours: list[list[int]]) -> CSR:
    indptr = torch.tensor([0] + [len(n) for n in neighbours]).cumsum(0)
    indices = torch.tensor([x for n in neighbours for x in n], dtype=torch.long)
    return CSR(indptr, indices)


ADJ = [[1, 2, 3, 4, 5, 6, 7, 8], [0], [], [0, 1, 2]]


@pytest.mark.parametrize("replace", [False, True])
def test_samples_are_real_neighbours_within_fanout_and_zero_degree_is_empty(replace: bool) -> None:
    csr = _csr(ADJ)
    g = torch.Generator().manual_seed(0)
    nodes = torch.tensor([0, 1, 2, 3])
    nbrs, mask = sample_neighbors(csr, nodes, 3, replace=replace, generator=g)
    assert nbrs.shape == mask.shape == (4, 3)
    for row, node in enumerate(nodes.tolist()):
        got = nbrs[row][mask[row]].tolist()
        assert set(got) <= set(ADJ[node])
        assert len(got) <= 3
    assert mask[2].sum() == 0  # zero-degree node
    if not replace:
        assert len(set(nbrs[0][mask[0]].tolist())) == 3  # distinct without replacement
        assert sorted(nbrs[3][mask[3]].tolist()) == [0, 1, 2]  # degree <= fanout keeps all
        assert mask[1].tolist() == [True, False, False]
    else:
        assert mask[1].all()  # with replacement every non-empty row is full


def test_without_replacement_is_uniform_and_redrawn_each_call() -> None:
    csr = _csr(ADJ)
    g = torch.Generator().manual_seed(1)
    nbrs, _ = sample_neighbors(csr, torch.zeros(4000, dtype=torch.long), 3, generator=g)
    counts = torch.bincount(nbrs.reshape(-1), minlength=9).float()
    share = counts[1:] / counts[1:].sum()
    assert torch.allclose(share, torch.full((8,), 1 / 8), atol=0.02)
    draws = [sample_neighbors(csr, torch.tensor([0]), 3, generator=g)[0][0] for _ in range(30)]
    assert len({tuple(d.tolist()) for d in draws}) > 10


def test_all_neighbors_pads_to_the_largest_degree() -> None:
    nbrs, mask = all_neighbors(_csr(ADJ), torch.tensor([2, 3]))
    assert nbrs.shape == (2, 3)
    assert nbrs[1][mask[1]].tolist() == [0, 1, 2] and not mask[0].any()


def test_empty_relation_gives_masked_rows() -> None:
    csr = CSR(torch.zeros(4, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    nbrs, mask = sample_neighbors(csr, torch.tensor([0, 2]), 4)
    assert not mask.any() and nbrs.shape == (2, 4)


def test_blocks_keep_destinations_as_prefix_and_positions_point_at_real_neighbours() -> None:
    # two types: 'a' (4 nodes) aggregates from 'a' and from 'b' (3 nodes); 'b' from 'a'
    csr = {
        ("a", "co", "a"): _csr([[1, 2], [0], [0, 3], [2]]),
        ("b", "rev", "a"): _csr([[0, 1], [], [2], [1]]),
        ("a", "co", "b"): _csr([[0], [0, 3], [2]]),
    }
    sampler = NeighborSampler(csr, [2, 2], generator=torch.Generator().manual_seed(0))
    seeds = {"a": torch.tensor([3, 1]), "b": torch.tensor([2])}
    blocks = sampler.sample(seeds)
    assert len(blocks) == 2
    last = blocks[-1]
    assert last.dst_nodes("a").tolist() == [3, 1] and last.dst_nodes("b").tolist() == [2]
    for i, block in enumerate(blocks):
        if i + 1 < len(blocks):  # this block's destinations are the next block's sources
            for t, nodes in blocks[i + 1].src_nodes.items():
                assert block.dst_nodes(t).tolist() == nodes.tolist()
        for et, pos in block.nbrs.items():
            s, _, d = et
            dst_ids = block.dst_nodes(d).tolist()
            for row, node in enumerate(dst_ids):
                real = csr[et].indices[csr[et].indptr[node] : csr[et].indptr[node + 1]].tolist()
                got = block.src_nodes[s][pos[row][block.mask[et][row]]].tolist()
                assert set(got) <= set(real)
                assert len(got) == min(2, len(real))
            edge_index = block.edge_index(et)
            assert edge_index.shape[1] == int(block.mask[et].sum())


def _link_sampler(balanced: bool):
    import numpy as np

    from embedding_jobs.data.link_sampler import LinkSampler

    rng = np.random.default_rng(0)
    pairs = {
        ("a", "a"): (rng.integers(0, 50, 400), rng.integers(0, 50, 400)),
        ("a", "b"): (rng.integers(0, 50, 20), rng.integers(0, 7, 20)),
        ("b", "b"): (rng.integers(0, 7, 100), rng.integers(0, 7, 100)),
    }
    return pairs, LinkSampler(pairs, {"a": 50, "b": 7}, batch_size=64, negatives=3, balanced=balanced, seed=0)


@pytest.mark.parametrize("balanced", [True, False])
def test_link_sampler_balances_relations_and_negatives_have_the_destination_type(balanced: bool) -> None:
    pairs, sampler = _link_sampler(balanced)
    per_relation = {key: 0 for key in pairs}
    for batch in sampler.epoch():
        seeds, positions = batch.seeds()
        for part, (src, dst, neg) in zip(batch.parts, positions, strict=True):
            key = tuple(sorted((part.src_type, part.dst_type)))
            per_relation[key] += part.src.numel()
            assert torch.equal(seeds[part.src_type][src], part.src)
            assert torch.equal(seeds[part.dst_type][dst], part.dst)
            assert torch.equal(seeds[part.dst_type][neg], part.neg)
            assert neg.shape == (part.src.numel(), 3)
            assert int(part.neg.max()) < {"a": 50, "b": 7}[part.dst_type]
    if balanced:  # every relation contributes the median relation size
        assert set(per_relation.values()) == {100}
    else:
        assert per_relation == {key: len(a) for key, (a, _) in pairs.items()}


def test_target_edges_are_hidden_from_the_sampled_messages_at_every_hop() -> None:
    from embedding_jobs.data.link_sampler import LinkBatch, LinkPart

    # 'a' 0 and 1 are linked (a-a) and 'a' 0 links 'b' 0; the batch predicts both links
    csr = {
        ("a", "co", "a"): _csr([[1, 2], [0, 2], [0, 1]]),
        ("b", "rev", "a"): _csr([[0], [], [0]]),
        ("a", "co", "b"): _csr([[0, 2]]),
    }
    batch = LinkBatch(
        [
            LinkPart("a", "a", torch.tensor([0]), torch.tensor([1]), torch.tensor([[2]])),
            LinkPart("b", "a", torch.tensor([0]), torch.tensor([0]), torch.tensor([[2]])),
        ]
    )
    seeds, _ = batch.seeds()
    sampler = NeighborSampler(csr, [4, 4], generator=torch.Generator().manual_seed(0))
    hidden = {("a", "a"): {(0, 1), (1, 0)}, ("a", "b"): {(0, 0)}, ("b", "a"): {(0, 0)}}
    seen_other = False
    for block in sampler.sample(seeds, exclude=batch.target_keys()):
        for (s, _, d), pos in block.nbrs.items():
            mask = block.mask[(s, _, d)]
            for row, node in enumerate(block.dst_nodes(d).tolist()):
                for src in block.src_nodes[s][pos[row][mask[row]]].tolist():
                    assert (node, src) not in hidden[(d, s)], f"target edge {d}{node}-{s}{src} leaked"
                    seen_other = True
    assert seen_other  # other edges (e.g. a0-a2) still carry messages
    # without the exclusion the same targets are sampled
    plain = sampler.sample(seeds)[-1]
    et = ("a", "co", "a")
    row = plain.dst_nodes("a").tolist().index(0)
    assert 1 in plain.src_nodes["a"][plain.nbrs[et][row][plain.mask[et][row]]].tolist()
