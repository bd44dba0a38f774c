"""Train the HGNN by link prediction on the co-consumption graph, checkpoint it, export vectors.

Loss (``hgnn.loss``): by default a sampled softmax. Each co-consumed pair ``(u, v)`` is scored
against ``shared_negatives`` nodes of ``v``'s type drawn once per batch (uniformly, or by
``degree ** negative_power``), with ``s`` the cosine of the L2-normalised embeddings over a
temperature; ``"margin"`` is the first version's hinge ``max(0, margin - s(u, v) + s(u, n))``
against ``negatives`` per-edge negatives. With ``edge_weights`` an epoch draws each relation's
edges in proportion to their co-user counts, so the softmax learns P(v | u) as co-consumption gives
it. Batches come from ``LinkSampler`` (every edge once by default, or 2T-HGNN's balanced
multi-link sampler with ``hgnn.balanced_sampler``); neighbours are re-sampled at every step,
with the batch's own target links hidden from the sampled messages (``hgnn.hide_target_edges``):
otherwise the model learns to find ``v`` among ``u``'s neighbours, which scores training pairs
well but says nothing about the pairs it must generalise to.

Health check: a held-out tenth of each relation's edges (removed from message passing) is ranked
item to item among all items of the partner's type (``embedding_jobs.hgnn_check``), beside
Popularity and item-kNN on the same pairs; the card also keeps the older link AUC against random
pairs, which popularity alone passes. The exported vectors use the full graph and cover every item.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embedding_jobs.checkpoint import (
    ModelCard,
    data_fingerprint,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)
from embedding_jobs.data.graph import HeteroGraph, build_graph
from embedding_jobs.data.hard_negatives import add_hard_negatives, two_hop_non_partners
from embedding_jobs.data.link_sampler import LinkPart, LinkSampler
from embedding_jobs.data.sampler import Block, NeighborSampler
from embedding_jobs.data.sketch import with_sketch
from embedding_jobs.device import describe_device, precision_context, resolve_device
from embedding_jobs.export import write_vectors
from embedding_jobs.hgnn_check import heldout_item_ranking
from embedding_jobs.models.hgnn import HGNN, HGNNSpec
from embedding_jobs.partners import Partners
from gfm.config import Config, HGNNConfig
from gfm.errors import StageError
from gfm.naming import checkpoint_dir, export_path
from gfm.progress import make_progress

__all__ = [
    "HGNNResult",
    "embed_all",
    "export_hgnn",
    "fit_hgnn",
    "holdout_edges",
    "isolate_seeds",
    "link_auc",
    "load_hgnn_graph",
    "load_trained_hgnn",
    "log_prior",
    "train_hgnn",
]

MODEL = "hgnn"
HOLDOUT_FRACTION = 0.1
HOLDOUT_MIN_EDGES = 20  # relations smaller than this keep every edge for training
HOLDOUT_MAX_EDGES = 5000  # enough for a stable AUC


@dataclass(frozen=True)
class HGNNResult:
    """What ``train_hgnn`` produced."""

    version: str
    checkpoint_dir: Path
    items_path: Path
    n_items: int
    metrics: dict[str, Any]
    device: str
    seconds: float


@dataclass
class FitStats:
    """Training statistics of ``fit_hgnn``."""

    epoch_losses: list[float] = field(default_factory=list)
    steps: int = 0
    train_edges: int = 0
    sampled_edges: int = 0
    seconds: float = 0.0


def load_hgnn_graph(cfg: Config) -> tuple[HeteroGraph, list[Path]]:
    """Build the graph from the marts, with text features unless told otherwise.

    Text features are (re)built first; thanks to their cache this only embeds new or changed
    items. With ``hgnn.id_embeddings`` the graph has no features (the model learns them); with
    ``hgnn.text_features`` off its features have no columns, so the co-consumption sketch that
    ``fit_hgnn`` and ``embed_all`` add is the whole input. Returns the graph and the input files
    (for the data fingerprint).
    """
    inputs = [cfg.marts_dir / "dim_items.parquet", cfg.marts_dir / "fct_item_edges.parquet"]
    if cfg.hgnn.id_embeddings:
        return build_graph(cfg.marts_dir, None, cfg.hgnn.edge_weight), inputs
    if not cfg.hgnn.text_features:
        if cfg.hgnn.sketch_dim <= 0:
            raise StageError(
                "hgnn.text_features is off and hgnn.sketch_dim is 0, so the HGNN would have no "
                "input: set a sketch_dim, turn text_features on, or use hgnn.id_embeddings"
            )
        graph = build_graph(cfg.marts_dir, None, cfg.hgnn.edge_weight)
        return replace(graph, features={t: torch.zeros(n, 0) for t, n in graph.num_nodes.items()}), inputs
    from embedding_jobs.text_features import build_text_features

    features_path = build_text_features(cfg).path
    inputs.append(features_path)
    return build_graph(cfg.marts_dir, features_path, cfg.hgnn.edge_weight), inputs


def holdout_edges(graph: HeteroGraph, seed: int) -> dict[tuple[str, str], np.ndarray]:
    """Per relation, the rows of the edges held out from training for the health check (by seed)."""
    rng = np.random.default_rng(seed + 1)
    held = {}
    for key, (a, _) in graph.pairs.items():
        if len(a) >= HOLDOUT_MIN_EDGES:
            n = min(int(len(a) * HOLDOUT_FRACTION), HOLDOUT_MAX_EDGES)
            held[key] = np.sort(rng.choice(len(a), size=n, replace=False))
    return held


def _spec(graph: HeteroGraph, hcfg: HGNNConfig) -> HGNNSpec:
    if not hcfg.fanouts:
        raise StageError("hgnn.fanouts is empty: give one fanout per layer, e.g. [10, 5]")
    if hcfg.id_embeddings:
        in_dim = hcfg.hidden_dim
    elif graph.features is not None:
        in_dim = int(next(iter(graph.features.values())).shape[1])
    else:
        raise StageError("the graph has no node features and hgnn.id_embeddings is off")
    return HGNNSpec(
        node_types=list(graph.node_types),
        edge_types=graph.edge_types,
        in_dim=in_dim,
        hidden_dim=hcfg.hidden_dim,
        out_dim=hcfg.out_dim,
        num_layers=len(hcfg.fanouts),
        id_embeddings=hcfg.id_embeddings,
        num_nodes=graph.num_nodes if hcfg.id_embeddings or hcfg.item_id_dim else None,
        item_id_dim=hcfg.item_id_dim,
        aggr=hcfg.aggr,
        sketch_dim=hcfg.sketch_dim if graph.features is not None else 0,
    )


def fit_hgnn(
    graph: HeteroGraph,
    hcfg: HGNNConfig,
    device: torch.device,
    *,
    show_progress: bool = True,
    max_steps: int | None = None,
) -> tuple[HGNN, FitStats]:
    """Train a fresh HGNN on every edge of ``graph`` (the training loop, without any I/O).

    Args:
        graph: The training graph (its edges are both the targets and the messages), with its
            plain node features: the co-consumption sketch (``hcfg.sketch_dim``) is added here.
        hcfg: Hyper-parameters.
        device: Where to train.
        show_progress: Show a progress bar.
        max_steps: Stop after this many steps (benchmarks); None trains ``hcfg.epochs`` epochs.

    Raises:
        StageError: If the graph has no edges (nothing to learn from).

    """
    if graph.num_edges == 0:
        raise StageError(
            "the item graph has no co-consumption edges, so the HGNN has nothing to learn from; "
            "lower graph.min_support or provide more interactions"
        )
    seed_everything(hcfg.seed)
    graph = with_sketch(graph, hcfg.sketch_dim)
    model = HGNN(_spec(graph, hcfg), id_dropout=hcfg.id_dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=hcfg.lr)
    generator = torch.Generator(device=device)
    generator.manual_seed(hcfg.seed)
    sampler = NeighborSampler(
        {et: c.to(device) for et, c in graph.csr.items()}, hcfg.fanouts, generator=generator
    )
    links = LinkSampler(
        graph.pairs,
        graph.num_nodes,
        batch_size=hcfg.batch_size,
        negatives=hcfg.negatives,
        balanced=hcfg.balanced_sampler,
        seed=hcfg.seed,
        shared=hcfg.shared_negatives if hcfg.loss == "softmax" else 0,
        negative_power=hcfg.negative_power,
        weights=graph.weights if hcfg.edge_weights else None,
    )
    for t in model.item_tables:  # only items with training edges get a per-item vector
        model.set_has_id(t, torch.from_numpy(links.degrees(t) > 0).to(device))
    prior = log_prior(graph, hcfg, device)
    two_hop = two_hop_non_partners(graph) if hcfg.hard_negatives and hcfg.loss == "softmax" else {}
    hard_rng = np.random.default_rng(hcfg.seed + 7)
    # under bf16 the inputs are read in bf16 anyway: keeping them so halves the bytes each step gathers
    dtype = torch.bfloat16 if hcfg.precision == "bf16" else None
    features = None if graph.features is None else {t: f.to(device, dtype) for t, f in graph.features.items()}
    stats = FitStats()
    per_epoch = sum(links.per_relation().values())
    total_steps = hcfg.epochs * -(-per_epoch // hcfg.batch_size)
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    start = time.perf_counter()
    model.train()
    with make_progress(transient=not show_progress) as progress:
        task = progress.add_task("train hgnn", total=total_steps, visible=show_progress)
        for _ in range(hcfg.epochs):
            if stats.steps >= total_steps:
                break
            total, count = 0.0, 0
            for batch in links.epoch(device):
                if stats.steps >= total_steps:
                    break
                for part in batch.parts if two_hop else []:
                    add_hard_negatives(
                        part, two_hop[(part.src_type, part.dst_type)], hcfg.hard_negatives, hard_rng
                    )
                seeds, positions = batch.seeds()
                blocks = sampler.sample(seeds, batch.target_keys() if hcfg.hide_target_edges else None)
                isolated = (
                    isolate_seeds(blocks, seeds, hcfg.isolate_share, generator)
                    if hcfg.isolate_share > 0
                    else None
                )
                with precision_context(device, hcfg.precision):
                    emb = model(blocks, features, isolated)
                losses = [
                    _part_loss(emb, part, pos, hcfg, prior)
                    for part, pos in zip(batch.parts, positions, strict=True)
                ]
                loss = torch.cat(losses).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                total += float(loss.detach()) * batch.num_edges
                count += batch.num_edges
                stats.steps += 1
                stats.sampled_edges += sum(b.num_sampled_edges for b in blocks)
                progress.advance(task)
            if count:
                stats.epoch_losses.append(total / count)
            stats.train_edges += count
    stats.seconds = time.perf_counter() - start
    model.eval()
    return model, stats


def isolate_seeds(
    blocks: list[Block], seeds: dict[str, torch.Tensor], share: float, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Drop every message into a random ``share`` of the seed nodes, at every hop, in place.

    A new item has no edge yet: at export it is embedded from its own text alone. Trained only on
    nodes with neighbours, the model places such a vector where no partner looks for it (new items
    scored 0.000 HR@10). Seeing some seeds without neighbours in training (as DropoutNet does for
    cold-start recommenders) teaches the text path to land where the item's partners are. Seed
    nodes are the first destination rows of every block (``NeighborSampler.sample``).

    Returns:
        Per type, the mask of the seeds dropped: the model must also blank the inputs their own
        edges made (``HGNN.forward``'s ``isolated``), the co-consumption sketch above all, or the
        seed would still see its neighbourhood through its features, which a new item cannot.
    """
    dropped = {}
    for t, nodes in seeds.items():
        drop = torch.rand(nodes.numel(), generator=generator, device=nodes.device) < share
        for block in blocks:
            for et, mask in block.mask.items():
                if et[2] == t:
                    mask[: nodes.numel()][drop] = False
        dropped[t] = drop
    return dropped


def log_prior(graph: HeteroGraph, hcfg: HGNNConfig, device: torch.device) -> dict[str, torch.Tensor] | None:
    """Per type, ``popularity_adjust * log(1 + weighted degree)`` of every node (None when off).

    The weighted degree sums the co-user counts of a node's training edges over every relation
    (each edge counts 1 without ``edge_weights``): how often the node is a positive target.
    """
    if hcfg.popularity_adjust <= 0 or hcfg.loss != "softmax":
        return None
    degree = {t: np.zeros(n, np.float64) for t, n in graph.num_nodes.items()}
    for key, (a, b) in graph.pairs.items():
        w = graph.weights[key] if graph.weights is not None and hcfg.edge_weights else np.ones(len(a))
        degree[key[0]] += np.bincount(a, weights=w, minlength=len(degree[key[0]]))
        degree[key[1]] += np.bincount(b, weights=w, minlength=len(degree[key[1]]))
    return {
        t: torch.from_numpy(hcfg.popularity_adjust * np.log1p(d)).float().to(device)
        for t, d in degree.items()
    }


def _part_loss(
    emb: dict[str, torch.Tensor],
    part: LinkPart,
    positions: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    hcfg: HGNNConfig,
    prior: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Per-edge loss of one batch part: sampled softmax or margin (``hcfg.loss``).

    With ``prior`` (``log_prior``) every candidate's logit gets its log popularity added during
    training only (logit adjustment, Menon et al. 2021): the softmax still fits P(partner | item),
    but the popular share of it is carried by the prior, so the cosine itself learns what is left.
    """
    src, dst, neg = positions
    u, v, n = emb[part.src_type][src], emb[part.dst_type][dst], emb[part.dst_type][neg]
    pos = (u * v).sum(-1, keepdim=True)
    negs = u @ n.T if neg.dim() == 1 else (u.unsqueeze(1) * n).sum(-1)
    if hcfg.loss == "margin":
        return torch.relu(hcfg.margin - pos + negs).reshape(-1)
    # a shared negative that is this edge's own positive is not a negative
    same = (
        (part.neg.unsqueeze(0) == part.dst.unsqueeze(1)) if neg.dim() == 1 else part.neg == part.dst[:, None]
    )
    logits = torch.cat([pos, negs.masked_fill(same, float("-inf"))], dim=1) / hcfg.temperature
    if prior is not None:
        bias = prior[part.dst_type]
        logits = logits + torch.cat([bias[part.dst].unsqueeze(1), bias[part.neg].expand_as(negs)], dim=1)
    return torch.nn.functional.cross_entropy(logits, torch.zeros_like(src), reduction="none")


def embed_all(
    model: HGNN, graph: HeteroGraph, device: torch.device, features: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """Embed every node of ``graph`` (isolated ones too) with the layer-wise inference.

    ``graph`` carries its plain node features, as for ``fit_hgnn``: the co-consumption sketch the
    model was trained with is computed here from the graph's own edges.
    """
    feats = features if features is not None else with_sketch(graph, model.spec.sketch_dim).features
    with make_progress(transient=True) as progress:
        task = progress.add_task("embed items", total=sum(graph.num_nodes.values()))
        return model.inference(
            graph.csr, graph.num_nodes, feats, device=device, on_batch=lambda n: progress.advance(task, n)
        )


def link_auc(
    emb: dict[str, torch.Tensor], pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]], seed: int
) -> float | None:
    """AUC of held-out pairs against random pairs of the same types (None without pairs)."""
    rng = np.random.default_rng(seed + 2)
    pos, neg = [], []
    for (a, b), (ia, ib) in pairs.items():
        if not len(ia):
            continue
        ea, eb = emb[a].numpy(), emb[b].numpy()
        pos.append((ea[ia] * eb[ib]).sum(1))
        rand = rng.integers(0, len(eb), size=len(ia))
        neg.append((ea[ia] * eb[rand]).sum(1))
    if not pos:
        return None
    p, n = np.concatenate(pos), np.concatenate(neg)
    ranks = np.empty(len(p) + len(n))
    ranks[np.argsort(np.concatenate([p, n]), kind="stable")] = np.arange(1, len(p) + len(n) + 1)
    return float((ranks[: len(p)].sum() - len(p) * (len(p) + 1) / 2) / (len(p) * len(n)))


def _write_isolated(cfg: Config, model: HGNN, graph: HeteroGraph, device: torch.device, version: str) -> Path:
    """Write ``isolated_items.parquet``: every item embedded without any edge.

    That is the vector an item published after training gets. The two-tower gives it to
    examples dated before their item could have had an edge (``two_tower.hgnn_as_of``).
    """
    alone = graph.without_pairs({key: np.arange(len(a)) for key, (a, _) in graph.pairs.items()})
    emb = embed_all(model, alone, device)
    return _write_items(cfg, graph, emb, version, entity="isolated_item")


def _write_items(
    cfg: Config, graph: HeteroGraph, emb: dict[str, torch.Tensor], version: str, entity: str = "item"
) -> Path:
    ids = np.concatenate([graph.item_ids[t] for t in graph.node_types])
    vectors = torch.cat([emb[t] for t in graph.node_types]).numpy()
    order = np.argsort(ids)
    return write_vectors(
        export_path(cfg.embeddings_dir, MODEL, version, entity),
        "item_id",
        ids[order],
        vectors[order],
        version,
    )


def _write_partners(cfg: Config, graph: HeteroGraph, version: str) -> Path:
    """Write ``partners.parquet``: each item's partners in the graph the vectors were embedded on."""
    src = [graph.item_ids[a][ia] for (a, _), (ia, _) in graph.pairs.items()]
    dst = [graph.item_ids[b][ib] for (_, b), (_, ib) in graph.pairs.items()]
    ids = np.concatenate([graph.item_ids[t] for t in graph.node_types])
    types = np.repeat(graph.node_types, [len(graph.item_ids[t]) for t in graph.node_types])
    order = np.argsort(ids)
    none = np.zeros(0, dtype=np.int64)
    partners = Partners.from_edges(
        np.concatenate([none, *src]), np.concatenate([none, *dst]), ids[order], types[order]
    )
    return partners.write(export_path(cfg.embeddings_dir, MODEL, version, "partner"))


def train_hgnn(cfg: Config, version: str) -> HGNNResult:
    """Train the HGNN, write ``models/hgnn/<version>/`` and ``embeddings/hgnn/<version>/items.parquet``.

    Its graph partners go beside the vectors (``partners.parquet``, ``embedding_jobs.partners``).

    Raises:
        StageError: If the marts are missing or the graph has no edges.
        DimensionError: If the text model does not match ``text.dim``.

    """
    start = time.perf_counter()
    folder = checkpoint_dir(cfg.models_dir, MODEL, version)
    device = resolve_device(cfg.hgnn.device)
    graph, inputs = load_hgnn_graph(cfg)
    held = holdout_edges(graph, cfg.hgnn.seed)
    train_graph = graph.without_pairs(held)
    model, stats = fit_hgnn(train_graph, cfg.hgnn, device)
    held_pairs = {k: (graph.pairs[k][0][i], graph.pairs[k][1][i]) for k, i in held.items()}
    # the training graph's sketch never sees the held-out pairs the health check ranks
    train_emb = embed_all(model, train_graph, device)
    auc = link_auc(train_emb, held_pairs, cfg.hgnn.seed)
    check = heldout_item_ranking(train_emb, train_graph, held_pairs, seed=cfg.hgnn.seed)
    t_embed = time.perf_counter()
    emb = embed_all(model, graph, device)
    embed_seconds = time.perf_counter() - t_embed
    items_path = _write_items(cfg, graph, emb, version)
    _write_partners(cfg, graph, version)
    if cfg.two_tower.hgnn_as_of:  # only the as-of two-tower reads them
        _write_isolated(cfg, model, graph, device, version)
    n_items = sum(graph.num_nodes.values())
    metrics = {
        "final_loss": stats.epoch_losses[-1] if stats.epoch_losses else None,
        "epoch_losses": stats.epoch_losses,
        "heldout_item_hr@10": check["hr"],
        "heldout_item_hr@10_by_relation": check["by_relation"],
        "heldout_link_auc": auc,
        "n_heldout_edges": int(sum(len(i) for i in held.values())),
        "n_items": n_items,
        "n_edges": graph.num_edges,
        "n_items_by_type": graph.num_nodes,
        "n_edges_by_relation": {f"{a}__{b}": len(x) for (a, b), (x, _) in graph.pairs.items()},
        "steps": stats.steps,
        "train_edges_per_s": stats.train_edges / max(stats.seconds, 1e-9),
        "sampled_edges_per_s": stats.sampled_edges / max(stats.seconds, 1e-9),
        "embed_items_per_s": n_items / max(embed_seconds, 1e-9),
    }
    card = ModelCard(
        model=MODEL,
        version=version,
        config=cfg.model_dump(mode="json"),
        data_fingerprint=data_fingerprint(inputs),
        metrics=metrics,
        seeds={"hgnn": cfg.hgnn.seed, "sampler": cfg.hgnn.seed, "holdout": cfg.hgnn.seed + 1},
        timings={"train_s": stats.seconds, "embed_s": embed_seconds, "total_s": time.perf_counter() - start},
        extra={"device": describe_device(device), "torch": torch.__version__},
    )
    state = {
        "spec": model.spec.to_dict(),
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
        "item_ids": {t: torch.from_numpy(ids) for t, ids in graph.item_ids.items()},
    }
    save_checkpoint(folder, state, card)
    return HGNNResult(
        version, folder, items_path, n_items, metrics, describe_device(device), time.perf_counter() - start
    )


def load_trained_hgnn(cfg: Config, version: str) -> tuple[HGNN, HeteroGraph, torch.device]:
    """A saved HGNN ready to embed, with the current marts' graph and the inputs it was trained on.

    Raises:
        NotFoundError: If the checkpoint does not exist.

    """
    device = resolve_device(cfg.hgnn.device)
    state, _ = load_checkpoint(checkpoint_dir(cfg.models_dir, MODEL, version), map_location="cpu")
    spec = HGNNSpec.from_dict(state["spec"])
    model = HGNN(spec)
    model.load_state_dict(state["state_dict"])
    model.to(device).eval()
    text = not spec.id_embeddings and spec.in_dim > spec.sketch_dim  # trained with text columns
    hcfg = cfg.hgnn.model_copy(update={"id_embeddings": spec.id_embeddings, "text_features": text})
    graph, _ = load_hgnn_graph(cfg.model_copy(update={"hgnn": hcfg}))
    known = {t: ids.numpy() for t, ids in state["item_ids"].items()}
    model.remap_items(known, graph.item_ids)
    return model.to(device), graph, device


def export_hgnn(cfg: Config, version: str) -> Path:
    """Re-export ``embeddings/hgnn/<version>/items.parquet`` (and its partners) from a checkpoint and the current marts.

    Items new since training are embedded inductively from their features and neighbours; with ID
    embeddings a new item has no learned vector and starts from zeros (neighbours only).

    Raises:
        NotFoundError: If the checkpoint does not exist.

    """
    model, graph, device = load_trained_hgnn(cfg, version)
    emb = embed_all(model, graph, device)
    if cfg.two_tower.hgnn_as_of:
        _write_isolated(cfg, model, graph, device, version)
    _write_partners(cfg, graph, version)
    return _write_items(cfg, graph, emb, version)
