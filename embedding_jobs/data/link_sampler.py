"""Link-prediction mini-batches over every relation, optionally balanced (2T-HGNN's multi-link sampler).

Co-consumption relations are very unequal in size (podcast-podcast edges dwarf audiobook-podcast
ones). With ``balanced=True`` every relation contributes the same number of edges to an epoch, the
median relation size: the majority relations are undersampled without replacement (a fresh subset
every epoch) and the minority ones, typically the cross-type links that matter most, are drawn with
replacement up to it, so that no relation is drowned out (2T-HGNN's multi-link sampler).
With ``balanced=False`` (the pipeline's default since docs/results.md round 12, where balancing
starved the dense type's own relation) an epoch is every edge once. Each positive edge is oriented
at random.

Negatives come in one of two shapes: ``negatives`` nodes per edge (``neg`` is ``[n, k]``), or
``shared`` nodes per destination type and batch, which every edge of that type is scored against
(``neg`` is ``[k]``; a sampled softmax gets many negatives for the price of a few nodes). Either way
they are drawn with probability proportional to ``degree ** negative_power`` within the
destination type: 0 is uniform over every node; 0.75 is word2vec's choice, under which the model
must tell popular items apart rather than separate popular items from obscure ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

from embedding_jobs.data.sampler import pair_keys

__all__ = ["LinkBatch", "LinkPart", "LinkSampler", "drawn_per_relation"]

K = TypeVar("K")


@dataclass
class LinkPart:
    """The edges of one oriented type pair within a batch (local ids).

    Attributes:
        src_type: Type of ``src``.
        dst_type: Type of ``dst`` and of the negatives.
        src: ``[n]`` source nodes.
        dst: ``[n]`` positive destination nodes.
        neg: ``[n, k]`` negative destination nodes per edge, or ``[k]`` shared by every edge.

    """

    src_type: str
    dst_type: str
    src: Tensor
    dst: Tensor
    neg: Tensor


@dataclass
class LinkBatch:
    """One mini-batch: parts per oriented type pair, and the unique seed nodes per type."""

    parts: list[LinkPart]

    def seeds(self) -> tuple[dict[str, Tensor], list[tuple[Tensor, Tensor, Tensor]]]:
        """Return the unique nodes per type, and each part's (src, dst, neg) as positions into them."""
        by_type: dict[str, list[Tensor]] = {}
        for p in self.parts:
            by_type.setdefault(p.src_type, []).append(p.src)
            by_type.setdefault(p.dst_type, []).extend([p.dst, p.neg.reshape(-1)])
        seeds: dict[str, Tensor] = {}
        inverse: dict[str, Tensor] = {}
        for t, chunks in sorted(by_type.items()):
            seeds[t], inverse[t] = torch.unique(torch.cat(chunks), return_inverse=True)
        cursor = dict.fromkeys(by_type, 0)
        positions = []
        for p in self.parts:
            out = []
            for t, x in ((p.src_type, p.src), (p.dst_type, p.dst), (p.dst_type, p.neg)):
                n = x.numel()
                out.append(inverse[t][cursor[t] : cursor[t] + n].reshape(x.shape))
                cursor[t] += n
            positions.append((out[0], out[1], out[2]))
        return seeds, positions

    def target_keys(self) -> dict[tuple[str, str], Tensor]:
        """The batch's positive pairs in both directions, as ``pair_keys`` per (dst type, src type).

        Passed to ``NeighborSampler.sample(exclude=...)`` so the edges being predicted are not
        also the messages the prediction is made from.
        """
        keys: dict[tuple[str, str], list[Tensor]] = {}
        for p in self.parts:
            keys.setdefault((p.dst_type, p.src_type), []).append(pair_keys(p.dst, p.src))
            keys.setdefault((p.src_type, p.dst_type), []).append(pair_keys(p.src, p.dst))
        return {k: torch.cat(v) for k, v in keys.items()}

    @property
    def num_edges(self) -> int:
        """Positive edges in the batch."""
        return sum(p.src.numel() for p in self.parts)


def drawn_per_relation(counts: dict[K, int], balanced: bool) -> dict[K, int]:
    """Edges one epoch draws from each relation, given each relation's edge count.

    Balanced, every relation gives the median relation's size; otherwise every edge once.
    """
    if not balanced or not counts:
        return dict(counts)
    target = int(np.median(list(counts.values())))
    return dict.fromkeys(counts, target)


class LinkSampler:
    """Shuffled (optionally balanced) link-prediction batches with random negatives."""

    def __init__(
        self,
        pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
        num_nodes: dict[str, int],
        *,
        batch_size: int,
        negatives: int,
        balanced: bool,
        seed: int,
        shared: int = 0,
        negative_power: float = 0.0,
        weights: dict[tuple[str, str], np.ndarray] | None = None,
    ) -> None:
        """Keep the training edges per undirected type pair and the node counts per type.

        Args:
            pairs: Per undirected type pair, the edges as two arrays of local ids.
            num_nodes: Nodes per type.
            batch_size: Positive edges per batch.
            negatives: Negatives per edge (used when ``shared`` is 0).
            balanced: Draw the same number of edges from every relation each epoch.
            seed: Seed of the sampler's generator.
            shared: Negatives per destination type shared by the whole batch (0: per edge).
            negative_power: Negatives drawn proportionally to ``degree ** negative_power``.
            weights: Per relation, a weight per edge (co-user counts): an epoch then draws a
                relation's edges with replacement in proportion to them, so a pair co-consumed by
                ten users is a target ten times as often as a pair of two (the softmax then
                learns P(b | a) as co-consumption gives it). None: every edge once (or a subset).

        """
        self.pairs = {k: v for k, v in sorted(pairs.items()) if len(v[0])}
        self.keys = list(self.pairs)
        self.num_nodes = num_nodes
        self.batch_size = batch_size
        self.negatives = negatives
        self.shared = shared
        self.balanced = balanced
        self.rng = np.random.default_rng(seed)
        self.cumulative = {t: self._cumulative(t, negative_power) for t in num_nodes}
        self.edge_p = {k: w / w.sum() for k, w in (weights or {}).items() if k in self.pairs and w.sum() > 0}

    def degrees(self, node_type: str) -> np.ndarray:
        """Training edges per node of one type, over every relation."""
        deg = np.zeros(self.num_nodes[node_type], np.int64)
        for (a, b), (ia, ib) in self.pairs.items():
            if a == node_type:
                deg += np.bincount(ia, minlength=len(deg))
            if b == node_type:
                deg += np.bincount(ib, minlength=len(deg))
        return deg

    def _cumulative(self, node_type: str, power: float) -> np.ndarray | None:
        """Cumulative negative-sampling weights of a type (None: uniform)."""
        if power == 0 or self.num_nodes[node_type] == 0:
            return None
        weight = self.degrees(node_type).astype(np.float64) ** power
        if weight.sum() == 0:
            return None
        return np.cumsum(weight / weight.sum())

    def draw_negatives(self, node_type: str, shape: tuple[int, ...]) -> np.ndarray:
        """Negative nodes of one type (degree-weighted or uniform, see the module docstring)."""
        cum = self.cumulative[node_type]
        if cum is None:
            return self.rng.integers(0, self.num_nodes[node_type], size=shape)
        pos = np.searchsorted(cum, self.rng.random(shape) * cum[-1], side="right")
        out: np.ndarray = np.minimum(pos, len(cum) - 1)
        return out

    def per_relation(self) -> dict[tuple[str, str], int]:
        """Edges drawn from each relation in one epoch."""
        return drawn_per_relation({k: len(v[0]) for k, v in self.pairs.items()}, self.balanced)

    def epoch(self, device: torch.device | None = None) -> Iterator[LinkBatch]:
        """One epoch of batches, freshly drawn."""
        rel_ids, edge_ids = [], []
        for r, (key, n_draw) in enumerate(self.per_relation().items()):
            n = len(self.pairs[key][0])
            # a majority relation gets a fresh subset each epoch; a small one is drawn up to size
            if key in self.edge_p:
                chosen = self.rng.choice(n, size=n_draw, replace=True, p=self.edge_p[key])
            elif n_draw == n:
                chosen = np.arange(n)
            else:
                chosen = self.rng.choice(n, size=n_draw, replace=n_draw > n)
            rel_ids.append(np.full(len(chosen), r))
            edge_ids.append(chosen)
        if not rel_ids:
            return
        rel, idx = np.concatenate(rel_ids), np.concatenate(edge_ids)
        order = self.rng.permutation(len(rel))
        rel, idx = rel[order], idx[order]
        flip = self.rng.random(len(rel)) < 0.5
        for lo in range(0, len(rel), self.batch_size):
            yield self._batch(
                rel[lo : lo + self.batch_size],
                idx[lo : lo + self.batch_size],
                flip[lo : lo + self.batch_size],
                device,
            )

    def _batch(
        self, rel: np.ndarray, idx: np.ndarray, flip: np.ndarray, device: torch.device | None
    ) -> LinkBatch:
        parts = []
        shared: dict[str, np.ndarray] = {}
        for r in np.unique(rel):
            key = self.keys[int(r)]
            a_ids, b_ids = self.pairs[key]
            sel = rel == r
            for flipped in (False, True):
                rows = idx[sel & (flip == flipped)]
                if not len(rows):
                    continue
                src_type, dst_type = (key[1], key[0]) if flipped else key
                src, dst = (b_ids[rows], a_ids[rows]) if flipped else (a_ids[rows], b_ids[rows])
                if self.shared:
                    if dst_type not in shared:
                        shared[dst_type] = self.draw_negatives(dst_type, (self.shared,))
                    neg = shared[dst_type]
                else:
                    neg = self.draw_negatives(dst_type, (len(rows), self.negatives))
                parts.append(
                    LinkPart(
                        src_type,
                        dst_type,
                        torch.as_tensor(src, dtype=torch.long, device=device),
                        torch.as_tensor(dst, dtype=torch.long, device=device),
                        torch.as_tensor(neg, dtype=torch.long, device=device),
                    )
                )
        return LinkBatch(parts)
