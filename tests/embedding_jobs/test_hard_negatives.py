"""Two-hop hard negatives for the HGNN (``embedding_jobs.data.hard_negatives``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hgnn_fixtures import tiny_config, write_marts

from embedding_jobs.data.graph import build_graph, graph_from_frames
from embedding_jobs.data.hard_negatives import add_hard_negatives, two_hop_non_partners
from embedding_jobs.data.link_sampler import LinkPart
from embedding_jobs.train_hgnn import fit_hgnn


def _toy() -> tuple[pd.DataFrame, pd.DataFrame]:
    # audiobooks 1-2-3-4 a path, 5 isolated; podcast 10 joined to audiobook 1, podcast 11 alone
    items = pd.DataFrame(
        {
            "item_id": [1, 2, 3, 4, 5, 10, 11],
            "content_type": ["audiobook"] * 5 + ["podcast"] * 2,
        }
    )
    edges = pd.DataFrame({"src_item_id": [1, 2, 3, 1], "dst_item_id": [2, 3, 4, 10], "n_co_users": 2})
    return items, edges


def _ids(graph, node_type: str, local: np.ndarray) -> set[int]:  # type: ignore[no-untyped-def]
    return {int(graph.item_ids[node_type][i]) for i in local}


def test_two_hop_non_partners_against_a_hand_count() -> None:
    graph = graph_from_frames(*_toy())
    hop = two_hop_non_partners(graph)
    local = {t: {int(i): k for k, i in enumerate(ids)} for t, ids in graph.item_ids.items()}
    row = hop[("audiobook", "audiobook")]
    expected = {1: {3}, 2: {4}, 3: {1}, 4: {2}, 5: set()}  # 1 -> 2 -> 3; 1 -> 10 -> 1 is itself
    for item, want in expected.items():
        i = local["audiobook"][item]
        assert _ids(graph, "audiobook", row.indices[row.indptr[i] : row.indptr[i + 1]]) == want
    # audiobook 2 reaches podcast 10 through audiobook 1; audiobook 1 is its partner, not two hops
    cross = hop[("audiobook", "podcast")]
    for item, want in {1: set(), 2: {10}, 3: set()}.items():
        i = local["audiobook"][item]
        assert _ids(graph, "podcast", cross.indices[cross.indptr[i] : cross.indptr[i + 1]]) == want
    back = hop[("podcast", "audiobook")]
    i = local["podcast"][10]
    assert _ids(graph, "audiobook", back.indices[back.indptr[i] : back.indptr[i + 1]]) == {2}


def test_hard_negatives_come_from_the_source_row_and_fall_back_to_uniform() -> None:
    graph = graph_from_frames(*_toy())
    hop = two_hop_non_partners(graph)[("audiobook", "audiobook")]
    local = {int(i): k for k, i in enumerate(graph.item_ids["audiobook"])}
    src = torch.tensor([local[1], local[2], local[5]])
    shared = torch.tensor([0, 4])
    part = LinkPart("audiobook", "audiobook", src, torch.tensor([local[2], local[3], local[4]]), shared)
    add_hard_negatives(part, hop, 6, np.random.default_rng(0))
    assert part.neg.shape == (3, 2 + 6)
    assert (part.neg[:, :2] == shared).all()  # the shared negatives are kept for every edge
    assert set(part.neg[0, 2:].tolist()) == {local[3]}
    assert set(part.neg[1, 2:].tolist()) == {local[4]}
    assert part.neg[2, 2:].max() < graph.num_nodes["audiobook"]  # no two-hop nodes: uniform ones


def test_training_with_hard_negatives_lowers_the_loss(tmp_path: Path) -> None:
    write_marts(tmp_path / "marts")
    cfg = tiny_config(tmp_path, id_embeddings=True, epochs=4, hard_negatives=4)
    graph = build_graph(cfg.marts_dir)
    _, stats = fit_hgnn(graph, cfg.hgnn, torch.device("cpu"), show_progress=False)
    assert np.isfinite(stats.epoch_losses).all()
    assert stats.epoch_losses[-1] < stats.epoch_losses[0]
