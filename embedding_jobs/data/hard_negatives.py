"""Hard negatives for the HGNN's softmax: each edge's source's two-hop non-partners (PinSage's idea).

Why: the HGNN ranks an item's graph partners about as well as their co-user counts do, or
better, but it puts much of its softmax mass beside them. Its nearest items are not its partners
(docs/results.md, round 35). The catalogue negatives it trains against are drawn uniformly, so
they are mostly items nothing relates to, and the model never has to tell a partner from an item
that merely looks like one. The items two hops away in the graph are such look-alikes: partners of
partners that are not partners. PinSage (Ying et al. 2018) trains against items ranked near, but
not at, the top for the same reason.

``two_hop_non_partners`` precomputes, per oriented type pair, each source node's two-hop nodes of
the destination type that are not its partners (nor itself). ``add_hard_negatives`` appends
``n`` of them, drawn uniformly, to every edge of a batch part. The part's negatives become
per-edge (``[n_edges, k + n]``: the shared ones repeated), which ``train_hgnn._part_loss``
already scores. A source without two-hop nodes of that type gets uniform ones instead.

The two-hop lists are held in memory, one entry per two-hop pair. That suits the synthetic
catalogues (thousands of items). On a graph like Yelp2018's (38,048 items, 1.6M edges) the
lists could be far larger; that case was not measured.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from embedding_jobs.data.graph import HeteroGraph
from embedding_jobs.data.link_sampler import LinkPart

__all__ = ["add_hard_negatives", "two_hop_non_partners"]


def _adjacency(graph: HeteroGraph) -> dict[tuple[str, str], sp.csr_matrix]:
    """Binary adjacency per oriented type pair that has edges (local ids)."""
    adj: dict[tuple[str, str], sp.csr_matrix] = {}
    for (a, b), (ia, ib) in graph.pairs.items():
        shape = (graph.num_nodes[a], graph.num_nodes[b])
        m = sp.csr_matrix((np.ones(len(ia)), (ia, ib)), shape=shape)
        if a == b:  # a relation within one type lists each edge once: both directions are partners
            m = m + m.T
        m.data[:] = 1.0  # a pair listed twice is still one partner
        adj[(a, b)] = m.tocsr()
        adj[(b, a)] = m.T.tocsr()
    return adj


def two_hop_non_partners(graph: HeteroGraph) -> dict[tuple[str, str], sp.csr_matrix]:
    """Per oriented type pair ``(src, dst)``: ``[n_src, n_dst]`` CSR of two-hop nodes that are not partners.

    Two hops pass through any type. Entries are 1; row ``i`` lists the ``dst`` nodes reachable by
    ``i -> m -> j`` for some partner ``m``, less ``i``'s own partners and ``i`` itself.
    """
    adj = _adjacency(graph)
    types = sorted(graph.num_nodes)
    out: dict[tuple[str, str], sp.csr_matrix] = {}
    for s in types:
        for d in types:
            reach = sp.csr_matrix((graph.num_nodes[s], graph.num_nodes[d]))
            for m in types:
                if (s, m) in adj and (m, d) in adj:
                    reach = reach + adj[(s, m)] @ adj[(m, d)]
            reach = (reach > 0).astype(np.float64).tocsr()
            if (s, d) in adj:
                reach = reach - reach.multiply(adj[(s, d)])
            if s == d:
                reach.setdiag(0)
            reach.eliminate_zeros()
            out[(s, d)] = reach.tocsr()
    return out


def add_hard_negatives(part: LinkPart, hop: sp.csr_matrix, n: int, rng: np.random.Generator) -> None:
    """Append ``n`` two-hop non-partners of each edge's source to its negatives, in place.

    Args:
        part: A batch part; its ``neg`` becomes ``[n_edges, k + n]``.
        hop: ``two_hop_non_partners(graph)[(part.src_type, part.dst_type)]``.
        n: Hard negatives per edge.
        rng: Generator of the draws.

    """
    src = part.src.cpu().numpy()
    start, size = hop.indptr[src], np.diff(hop.indptr)[src]
    offset = (rng.random((len(src), n)) * np.maximum(size, 1)[:, None]).astype(np.int64)
    near = hop.indices[np.minimum(start[:, None] + offset, max(len(hop.indices) - 1, 0))] if hop.nnz else None
    uniform = rng.integers(0, hop.shape[1], size=(len(src), n))
    hard = uniform if near is None else np.where(size[:, None] > 0, near, uniform)
    shared = part.neg if part.neg.dim() == 2 else part.neg.unsqueeze(0).expand(len(src), -1)
    part.neg = torch.cat([shared, torch.as_tensor(hard, dtype=torch.long, device=part.neg.device)], dim=1)
