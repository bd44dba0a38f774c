"""Heterogeneous GraphSAGE (the HGNN of 2T-HGNN, arXiv 2403.05185), on sampled blocks.

Each layer is, for a destination node ``v`` of type ``d``::

    h'_v = W_root h_v + b + sum over relations r = (s, r, d) of
           W_r · max_{u in N_r(v)} relu(P_r h_u + c_r)

i.e. PyG's ``HeteroConv({r: SAGEConv(aggr="max", project=True)}, aggr="sum")`` with the root
weights of the relations folded into one root transform shared by every node type. Sharing the
root is what keeps the model inductive for every node: an isolated item, a new item or a whole
content type without edges is still embedded from its own features by trained weights (in
``HeteroConv`` a node type with no incoming relation gets no output at all).

Neighbours arrive as dense ``[n_dst, fanout]`` position matrices (``embedding_jobs.data.sampler``),
so the max pool is a gather plus ``amax`` and sources are projected once before the gather.
The output is L2-normalised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from embedding_jobs.data.graph import EdgeType, edge_type_key
from embedding_jobs.data.sampler import CSR, Block, all_neighbors

__all__ = ["HGNN", "HGNNSpec", "HeteroSAGEConv"]


@dataclass(frozen=True)
class HGNNSpec:
    """Architecture of an HGNN, stored in the checkpoint so it can be rebuilt.

    Attributes:
        node_types: Content types.
        edge_types: Directed relations ``(src, rel, dst)``.
        in_dim: Input feature size (text dim, or the ID embedding size).
        hidden_dim: Size after the first layer (and of the neighbour projection).
        out_dim: Output embedding size.
        num_layers: Message-passing layers.
        id_embeddings: Learn one vector per node instead of reading features.
        num_nodes: Per type, rows of the ID embedding tables (with ``id_embeddings`` or
            ``item_id_dim``).
        item_id_dim: Size of a learnable per-item vector concatenated to the features (0: none).
        aggr: Neighbour aggregation, ``"max"`` (GraphSAGE-pool) or ``"mean"``.
        sketch_dim: How many of the ``in_dim`` input columns are the co-consumption sketch
            (``embedding_jobs.data.sketch``), recomputed from the graph at every export.

    """

    node_types: list[str]
    edge_types: list[EdgeType]
    in_dim: int
    hidden_dim: int
    out_dim: int
    num_layers: int = 2
    id_embeddings: bool = False
    num_nodes: dict[str, int] | None = None
    item_id_dim: int = 0
    aggr: str = "max"
    sketch_dim: int = 0

    def to_dict(self) -> dict[str, object]:
        """Plain types only (lists of lists for edge types), for ``torch.save(weights_only)``."""
        out = asdict(self)
        out["edge_types"] = [list(et) for et in self.edge_types]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> HGNNSpec:
        """Inverse of ``to_dict``."""
        values = dict(data)
        values["edge_types"] = [tuple(et) for et in values["edge_types"]]  # type: ignore[attr-defined]
        return cls(**values)  # type: ignore[arg-type]


class HeteroSAGEConv(nn.Module):
    """One heterogeneous GraphSAGE layer: per-relation max- or mean-pool, summed, plus a shared root."""

    def __init__(
        self, edge_types: list[EdgeType], in_dim: int, proj_dim: int, out_dim: int, aggr: str = "max"
    ) -> None:
        """Create per-relation projection (P_r, c_r) and neighbour (W_r) weights and the root."""
        super().__init__()
        if aggr not in ("max", "mean"):
            raise ValueError(f"unknown aggregation {aggr!r}: use 'max' or 'mean'")
        self.aggr = aggr
        self.edge_types = list(edge_types)
        self.proj = nn.ModuleDict({edge_type_key(et): nn.Linear(in_dim, proj_dim) for et in edge_types})
        self.neigh = nn.ModuleDict(
            {edge_type_key(et): nn.Linear(proj_dim, out_dim, bias=False) for et in edge_types}
        )
        self.root = nn.Linear(in_dim, out_dim)

    def project(self, edge_type: EdgeType, h_src: Tensor) -> Tensor:
        """``relu(P_r h + c_r)`` for every source node (done once, before any gather)."""
        out: Tensor = F.relu(self.proj[edge_type_key(edge_type)](h_src))
        return out

    def combine(self, h_dst: Tensor, messages: dict[EdgeType, tuple[Tensor, Tensor, Tensor]]) -> Tensor:
        """Root transform plus the max-pooled messages of each relation.

        Args:
            h_dst: Destination features ``[n, in_dim]``.
            messages: Per relation, (projected sources, ``[n, fanout]`` positions, mask).

        """
        out: Tensor = self.root(h_dst)
        for et, (z, nbrs, mask) in messages.items():
            if z.shape[0] == 0:  # no source node at all: every slot is empty, the message is 0
                continue
            # projected values are >= 0, so zeroing empty slots leaves the max unchanged and
            # gives 0 for a node without neighbours (as PyG's max aggregation does)
            gathered = F.embedding(nbrs, z) * mask.unsqueeze(-1).to(z.dtype)
            if self.aggr == "max":
                pooled = gathered.max(dim=1).values
            else:  # mean over the real neighbours; 0 for a node without any (as PyG's mean)
                pooled = gathered.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1).to(z.dtype)
            out = out + self.neigh[edge_type_key(et)](pooled)
        return out

    def forward(self, h_src: dict[str, Tensor], block: Block) -> dict[str, Tensor]:
        """Apply the layer to one sampled block; returns features of its destination nodes."""
        out: dict[str, Tensor] = {}
        for t, n in block.n_dst.items():
            messages = {
                et: (self.project(et, h_src[et[0]]), block.nbrs[et], block.mask[et])
                for et in self.edge_types
                if et[2] == t and et in block.nbrs
            }
            out[t] = self.combine(h_src[t][:n], messages)
        return out


class HGNN(nn.Module):
    """Stacked ``HeteroSAGEConv`` layers with ReLU between them and an L2-normalised output.

    Inputs per node are its feature row (text), or a learned ID vector (``id_embeddings``), and,
    with ``item_id_dim > 0``, a learned per-item vector concatenated to the features. Items that
    had no training edge keep a zero per-item vector (``has_id`` is False), so new items are
    embedded from their text and neighbours only; ``id_dropout`` zeroes a share of the per-item
    vectors during training so that this text-only path is trained too.
    """

    def __init__(self, spec: HGNNSpec, id_dropout: float = 0.0) -> None:
        """Build the layers (and ID embedding tables when ``spec.id_embeddings`` / ``item_id_dim``)."""
        super().__init__()
        self.spec = spec
        self.id_dropout = id_dropout
        first = spec.in_dim + spec.item_id_dim
        self.dims = [first] + [spec.hidden_dim] * (spec.num_layers - 1) + [spec.out_dim]
        self.convs = [
            HeteroSAGEConv(spec.edge_types, self.dims[i], spec.hidden_dim, self.dims[i + 1], spec.aggr)
            for i in range(spec.num_layers)
        ]
        self.layers = nn.ModuleList(self.convs)  # registers the parameters of ``convs``
        sizes = spec.num_nodes or {}
        self.id_tables: dict[str, nn.Embedding] = {}
        if spec.id_embeddings:
            self.id_tables = {t: nn.Embedding(max(sizes.get(t, 0), 1), spec.in_dim) for t in spec.node_types}
            for emb in self.id_tables.values():
                nn.init.normal_(emb.weight, std=0.1)
        self.id_emb = nn.ModuleDict(self.id_tables) if spec.id_embeddings else None
        self.item_tables: dict[str, nn.Embedding] = {}
        if spec.item_id_dim:
            self.item_tables = {
                t: nn.Embedding(max(sizes.get(t, 0), 1), spec.item_id_dim) for t in spec.node_types
            }
            for emb in self.item_tables.values():
                nn.init.normal_(emb.weight, std=0.1)
            for t, emb in self.item_tables.items():
                self.register_buffer(f"has_id__{t}", torch.ones(emb.num_embeddings, dtype=torch.bool))
        self.item_emb = nn.ModuleDict(self.item_tables) if spec.item_id_dim else None

    def has_id(self, node_type: str) -> Tensor:
        """Per node of a type, whether its per-item vector is used (it had training edges)."""
        out: Tensor = getattr(self, f"has_id__{node_type}")
        return out

    def set_has_id(self, node_type: str, mask: Tensor) -> None:
        """Mark which nodes of a type have a trained per-item vector (the others read zeros)."""
        self.has_id(node_type).copy_(mask.to(torch.bool))

    def input_features(self, node_type: str, nodes: Tensor, features: dict[str, Tensor] | None) -> Tensor:
        """Input vectors of some nodes: feature rows (or ID embeddings), plus per-item vectors."""
        if features is not None and node_type in features:
            base = features[node_type][nodes]
        elif self.spec.id_embeddings:
            if node_type not in self.id_tables:  # a content type unseen in training: no ID vector
                base = torch.zeros((nodes.numel(), self.spec.in_dim), device=nodes.device)
            else:
                base = self.id_tables[node_type](nodes)
        else:
            raise ValueError(f"this HGNN reads node features, but none were given for {node_type!r}")
        if not self.spec.item_id_dim:
            return base
        if node_type not in self.item_tables:
            return torch.cat([base, base.new_zeros((nodes.numel(), self.spec.item_id_dim))], dim=1)
        keep = self.has_id(node_type)[nodes]
        if self.training and self.id_dropout > 0:
            keep = keep & (torch.rand(nodes.shape, device=nodes.device) >= self.id_dropout)
        ids = self.item_tables[node_type](nodes) * keep.unsqueeze(1).to(base.dtype)
        return torch.cat([base, ids], dim=1)

    def _blank_own_edges(self, x: Tensor, drop: Tensor, from_features: bool) -> Tensor:
        """``x`` with the columns a node's own edges made zeroed on the first rows marked in ``drop``."""
        start = self.spec.in_dim - self.spec.sketch_dim if from_features else 0
        if start >= x.shape[1]:
            return x
        keep = torch.ones_like(x)
        rows = torch.nonzero(drop, as_tuple=True)[0]
        keep[rows, start:] = 0.0
        return x * keep

    def remap_items(self, known: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> None:
        """Re-index the learned per-node tables from the training catalogue to a current one.

        Args:
            known: Per type, the sorted item ids the tables were trained on (row order).
            current: Per type, the sorted item ids of the graph to embed now.

        Items new since training get zero rows (and no per-item vector); items gone are dropped.
        """
        for tables, attr in ((self.id_tables, "id_emb"), (self.item_tables, "item_emb")):
            if not tables:
                continue
            for t in list(tables):
                old = tables[t].weight.detach()
                ids_now = current.get(t, np.zeros(0, np.int64))
                ids_then = known.get(t, np.zeros(0, np.int64))
                pos = np.clip(np.searchsorted(ids_then, ids_now), 0, max(len(ids_then) - 1, 0))
                hit = ids_then[pos] == ids_now if len(ids_then) else np.zeros(len(ids_now), bool)
                table = nn.Embedding(max(len(ids_now), 1), old.shape[1]).to(old.device)
                with torch.no_grad():
                    table.weight.zero_()
                    rows = torch.from_numpy(np.flatnonzero(hit)).to(old.device)
                    table.weight[rows] = old[torch.from_numpy(pos[hit]).to(old.device)]
                tables[t] = table
                if attr == "item_emb":
                    had = self.has_id(t)[torch.from_numpy(pos[hit]).to(old.device)]
                    mask = torch.zeros(table.num_embeddings, dtype=torch.bool, device=old.device)
                    mask[rows] = had
                    setattr(self, f"has_id__{t}", mask)
            setattr(self, attr, nn.ModuleDict(tables))

    def forward(
        self,
        blocks: list[Block],
        features: dict[str, Tensor] | None,
        isolated: dict[str, Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """Embed the final destination nodes of a sampled mini-batch (unit vectors per type).

        Args:
            blocks: The sampled layers, outermost first.
            features: Per type, every node's input features (None: ID embeddings).
            isolated: Per type, a mask over the seed nodes (the first rows of every block) to
                embed as a new item is embedded: the inputs its training edges made (the sketch
                columns, the per-item and ID vectors) read zero. Their messages are dropped by
                the caller (``train_hgnn.isolate_seeds``).

        """
        h = {t: self.input_features(t, ids, features) for t, ids in blocks[0].src_nodes.items()}
        for t, drop in (isolated or {}).items():
            if t in h and bool(drop.any()):
                h[t] = self._blank_own_edges(h[t], drop, features is not None and t in features)
        for i, (layer, block) in enumerate(zip(self.convs, blocks, strict=True)):
            h = layer(h, block)
            if i < len(self.convs) - 1:
                h = {t: F.relu(x) for t, x in h.items()}
        return {t: F.normalize(x.float(), dim=-1) for t, x in h.items()}  # fp32 under bf16 autocast too

    @torch.no_grad()
    def inference(
        self,
        csr: dict[EdgeType, CSR],
        num_nodes: dict[str, int],
        features: dict[str, Tensor] | None,
        *,
        batch_size: int = 4096,
        device: torch.device | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> dict[str, Tensor]:
        """Embed every node, layer by layer over full neighbourhoods (the export step).

        Args:
            csr: Per edge type, the adjacency (any device; moved to ``device``).
            num_nodes: Nodes per type (isolated nodes included).
            features: Per type, the full feature tables (None with ID embeddings).
            batch_size: Destination nodes per batch.
            device: Where to compute (the model's device when None).
            on_batch: Called with the number of nodes finished, for progress.

        Returns:
            Per type, ``[num_nodes[t], out_dim]`` unit vectors on the CPU.

        """
        device = device or next(self.parameters()).device
        adjacency = {et: c.to(device) for et, c in csr.items() if et in self.convs[0].edge_types}
        h: dict[str, Tensor] = {}
        for t, n in num_nodes.items():
            ids = torch.arange(n, device=device)
            feats = None if features is None else {t: features[t].to(device)}
            h[t] = self.input_features(t, ids, feats)
        last = len(self.convs) - 1
        for i, layer in enumerate(self.convs):
            z = {et: layer.project(et, h[et[0]]) for et in adjacency if et[0] in h}
            out: dict[str, Tensor] = {}
            for t, n in num_nodes.items():
                parts = []
                for lo in range(0, n, batch_size):
                    nodes = torch.arange(lo, min(lo + batch_size, n), device=device)
                    messages = {et: (z[et], *all_neighbors(adjacency[et], nodes)) for et in z if et[2] == t}
                    parts.append(layer.combine(h[t][nodes], messages))
                    if on_batch is not None and i == last:
                        on_batch(nodes.numel())
                out[t] = torch.cat(parts) if parts else torch.zeros((0, self.dims[i + 1]), device=device)
            h = {t: F.relu(x) for t, x in out.items()} if i < last else out
        return {t: F.normalize(x, dim=-1).cpu() for t, x in h.items()}
