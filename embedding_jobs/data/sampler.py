"""A vectorized uniform fixed-size neighbour sampler in plain torch (CSR), CPU or CUDA.

PyG's ``NeighborLoader`` needs pyg-lib or torch-sparse, which cannot be installed here, and DGL does
not load with torch 2.13 (see the README's design notes). This sampler draws ``fanout``
neighbours per node and relation, with or without replacement, as one batched tensor operation per
relation and layer; it is redrawn at every call. Zero-degree nodes get an all-masked row.

A sampled layer is a ``Block``: for each destination node, a dense ``[n_dst, fanout]`` matrix of
positions into the source node list of the relation's source type, plus a validity mask. The
destination nodes of a type are always a prefix of that type's source nodes, as in PyG and DGL
blocks, so ``Block.edge_index`` gives PyG-style bipartite ``edge_index`` tensors too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["CSR", "Block", "NeighborSampler", "all_neighbors", "pair_keys", "sample_neighbors"]

EdgeType = tuple[str, str, str]


@dataclass(frozen=True)
class CSR:
    """Compressed sparse rows: neighbours of node ``i`` are ``indices[indptr[i]:indptr[i+1]]``."""

    indptr: Tensor
    indices: Tensor

    @property
    def num_nodes(self) -> int:
        """Number of rows (destination nodes)."""
        return int(self.indptr.numel()) - 1

    @property
    def max_degree(self) -> int:
        """The largest row length (0 for an empty graph)."""
        return int((self.indptr[1:] - self.indptr[:-1]).max()) if self.num_nodes > 0 else 0

    def to(self, device: torch.device | str) -> CSR:
        """Move the CSR to another device."""
        return CSR(self.indptr.to(device), self.indices.to(device))


def sample_neighbors(
    csr: CSR, nodes: Tensor, fanout: int, *, replace: bool = False, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Draw up to ``fanout`` neighbours of each node, uniformly.

    Without replacement, a node with degree <= fanout keeps all its neighbours and a node with
    more draws a uniform ``fanout``-subset (Floyd's algorithm, vectorized over nodes). With
    replacement every node with at least one neighbour gets exactly ``fanout`` draws.

    Args:
        csr: The adjacency of one relation.
        nodes: int64 destination node ids, on the CSR's device.
        fanout: Number of neighbours per node.
        replace: Sample with replacement.
        generator: A torch generator on the same device (for reproducible draws).

    Returns:
        ``(neighbours, mask)``, both ``[len(nodes), fanout]``: neighbour ids (0 where masked) and
        whether the slot holds a real neighbour.

    """
    device = nodes.device
    start = csr.indptr[nodes]
    deg = csr.indptr[nodes + 1] - start
    n = nodes.numel()
    if replace:
        u = torch.rand((n, fanout), device=device, generator=generator)
        offset = (u * deg.unsqueeze(1)).long().clamp_max((deg - 1).clamp_min(0).unsqueeze(1))
        mask = (deg > 0).unsqueeze(1).expand(n, fanout)
    else:
        slot = torch.arange(fanout, device=device).expand(n, fanout)
        offset = slot.clone()
        mask = slot < deg.unsqueeze(1)
        big = deg > fanout
        if bool(big.any()):
            offset[big] = _floyd(deg[big], fanout, generator)
    if csr.indices.numel() == 0:
        return torch.zeros((n, fanout), dtype=torch.long, device=device), torch.zeros_like(mask)
    pos = (start.unsqueeze(1) + offset).clamp_max(csr.indices.numel() - 1)
    neighbours = torch.where(mask, csr.indices[pos], torch.zeros_like(pos))
    return neighbours, mask


def _floyd(deg: Tensor, k: int, generator: torch.Generator | None) -> Tensor:
    """Draw a uniform k-subset of ``range(d)`` for each row's ``d > k`` (Floyd's algorithm)."""
    n = deg.numel()
    chosen = torch.empty((n, k), dtype=torch.long, device=deg.device)
    u = torch.rand((n, k), device=deg.device, generator=generator)
    for step in range(k):
        j = deg - k + step  # the upper end of the draw for this step, per row
        t = (u[:, step] * (j + 1).to(u.dtype)).long().clamp_max(j)
        taken = (
            (chosen[:, :step] == t.unsqueeze(1)).any(dim=1) if step else torch.zeros_like(t, dtype=torch.bool)
        )
        chosen[:, step] = torch.where(taken, j, t)
    return chosen


def all_neighbors(csr: CSR, nodes: Tensor) -> tuple[Tensor, Tensor]:
    """Every neighbour of each node, padded to the largest degree among ``nodes`` (for inference)."""
    start = csr.indptr[nodes]
    deg = csr.indptr[nodes + 1] - start
    width = max(int(deg.max()) if deg.numel() else 0, 1)
    slot = torch.arange(width, device=nodes.device).expand(nodes.numel(), width)
    mask = slot < deg.unsqueeze(1)
    if csr.indices.numel() == 0:
        return torch.zeros_like(slot), mask
    pos = (start.unsqueeze(1) + slot).clamp_max(csr.indices.numel() - 1)
    return torch.where(mask, csr.indices[pos], torch.zeros_like(pos)), mask


@dataclass
class Block:
    """One sampled message-passing layer.

    Attributes:
        src_nodes: Per node type, the local ids whose representations this layer reads.
        n_dst: Per node type, how many destination nodes; they are ``src_nodes[t][:n_dst[t]]``.
        nbrs: Per edge type ``(s, r, d)``, ``[n_dst[d], fanout]`` positions into ``src_nodes[s]``.
        mask: Per edge type, which slots of ``nbrs`` are real neighbours.

    """

    src_nodes: dict[str, Tensor]
    n_dst: dict[str, int]
    nbrs: dict[EdgeType, Tensor]
    mask: dict[EdgeType, Tensor]

    def dst_nodes(self, node_type: str) -> Tensor:
        """Return the destination local ids of one type."""
        return self.src_nodes[node_type][: self.n_dst.get(node_type, 0)]

    def edge_index(self, edge_type: EdgeType) -> Tensor:
        """PyG bipartite ``edge_index`` ``[2, E]`` (row 0: source positions, row 1: destination)."""
        mask = self.mask[edge_type]
        dst = torch.arange(mask.shape[0], device=mask.device).unsqueeze(1).expand_as(mask)
        return torch.stack([self.nbrs[edge_type][mask], dst[mask]])

    @property
    def num_sampled_edges(self) -> int:
        """Real neighbour slots in this block (the edges messages flow along)."""
        return int(sum(int(m.sum()) for m in self.mask.values()))


def pair_keys(dst: Tensor, src: Tensor) -> Tensor:
    """One int64 key per (destination, source) local-id pair (ids must be below 2**31)."""
    return (dst << 32) | src


def _unique_keep_prefix(prefix: Tensor, extra: Tensor) -> tuple[Tensor, Tensor]:
    """Return the unique ids of ``cat(prefix, extra)`` in first-seen order (``prefix`` is already unique).

    Returns the unique ids and, for every element of ``extra``, its position among them.
    """
    combined = torch.cat([prefix, extra])
    uniq, inverse = torch.unique(combined, return_inverse=True)
    first = torch.full((uniq.numel(),), combined.numel(), dtype=torch.long, device=combined.device)
    first.scatter_reduce_(0, inverse, torch.arange(combined.numel(), device=combined.device), reduce="amin")
    order = torch.argsort(first)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    return uniq[order], rank[inverse[prefix.numel() :]]


class NeighborSampler:
    """Multi-layer heterogeneous neighbour sampling over per-relation CSR adjacency."""

    def __init__(
        self,
        csr: dict[EdgeType, CSR],
        fanouts: list[int],
        *,
        replace: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        """Keep the adjacency (already on the target device) and the per-layer fanouts.

        Args:
            csr: Per edge type, the CSR keyed by destination node.
            fanouts: Neighbours per relation for each hop, the seeds' own hop first (as PyG's
                ``num_neighbors``): ``[10, 5]`` draws 10 neighbours of each seed, then 5 of each
                of those.
            replace: Sample with replacement.
            generator: A seeded generator on the adjacency's device.

        """
        self.csr = csr
        self.fanouts = list(fanouts)
        self.replace = replace
        self.generator = generator

    def sample(
        self, seeds: dict[str, Tensor], exclude: dict[tuple[str, str], Tensor] | None = None
    ) -> list[Block]:
        """Sample blocks for unique seed nodes per type; returns blocks input layer first.

        The final block's destination nodes are exactly ``seeds`` (same order).

        Args:
            seeds: Per node type, unique local ids.
            exclude: Edges to hide at every hop, per ``(dst type, src type)``, as
                ``pair_keys(dst, src)``: the link-prediction targets of the batch, so the model
                cannot score a pair by finding it among a node's neighbours.

        """
        dst = {t: s for t, s in seeds.items()}
        blocks: list[Block] = []
        for fanout in self.fanouts:
            sampled: dict[EdgeType, tuple[Tensor, Tensor]] = {}
            new: dict[str, list[Tensor]] = {}
            for et, csr in self.csr.items():
                s_type, _, d_type = et
                if d_type not in dst or dst[d_type].numel() == 0:
                    continue
                ids, mask = sample_neighbors(
                    csr, dst[d_type], fanout, replace=self.replace, generator=self.generator
                )
                hidden = exclude.get((d_type, s_type)) if exclude else None
                if hidden is not None and hidden.numel():
                    mask = mask & ~torch.isin(pair_keys(dst[d_type].unsqueeze(1), ids), hidden)
                sampled[et] = (ids, mask)
                new.setdefault(s_type, []).append(ids[mask])
            src_nodes: dict[str, Tensor] = {}
            positions: dict[str, Tensor] = {}
            for t in sorted(set(dst) | set(new)):
                prefix = dst.get(t)
                if prefix is None:
                    prefix = torch.zeros(0, dtype=torch.long, device=next(iter(new[t])).device)
                extra = torch.cat(new[t]) if t in new else prefix[:0]
                src_nodes[t], positions[t] = _unique_keep_prefix(prefix, extra)
            nbrs: dict[EdgeType, Tensor] = {}
            masks: dict[EdgeType, Tensor] = {}
            cursor = dict.fromkeys(new, 0)
            for et, (ids, mask) in sampled.items():
                s_type = et[0]
                count = int(mask.sum())
                pos = torch.zeros_like(ids)
                pos[mask] = positions[s_type][cursor[s_type] : cursor[s_type] + count]
                cursor[s_type] += count
                nbrs[et], masks[et] = pos, mask
            blocks.append(Block(src_nodes, {t: int(d.numel()) for t, d in dst.items()}, nbrs, masks))
            dst = src_nodes
        blocks.reverse()
        return blocks
