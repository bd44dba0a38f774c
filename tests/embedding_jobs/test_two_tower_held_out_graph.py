"""A random validation slice's pairs are left out of the item graph its selection runs read.

A real HGNN (the co-consumption sketch alone, as on an ID-only source) is trained on the
two-tower test world's item graph, counted by the marts' rules; the selection runs must read its
vectors over the graph recounted without the slice's pairs, the refit and the export the marts'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from tt_fixtures import build_world, one_thread, selection_and_refit

from embedding_jobs.data.edge_count import count_item_edges
from embedding_jobs.export import read_vectors
from embedding_jobs.held_out_graph import hgnn_without, without_pairs
from embedding_jobs.train_hgnn import train_hgnn

HGNN = "v20261017t000020_9a9a9a"


def _consumed(cfg) -> pd.DataFrame:
    facts = pd.read_parquet(cfg.marts_dir / "fct_interactions.parquet")
    return facts.loc[facts["is_consumed"].astype(bool), ["user_id", "item_id", "content_type"]]


@pytest.fixture
def world(tmp_path):
    """The two-tower world, its ``fct_item_edges`` counted from its consumptions, a trained HGNN."""
    cfg = build_world(tmp_path, users=80)
    cfg.graph.min_support = 1  # the tiny world has few co-users per pair
    edges = count_item_edges(_consumed(cfg), cfg.graph)
    items = pd.read_parquet(cfg.marts_dir / "dim_items.parquet", columns=["item_id", "content_type"])
    kind = items.set_index("item_id")["content_type"]
    edges = edges.assign(src_type=edges.src_item_id.map(kind), dst_type=edges.dst_item_id.map(kind))
    edges["relation"] = edges.src_type + "__" + edges.dst_type
    edges.to_parquet(cfg.marts_dir / "fct_item_edges.parquet")
    hgnn = {"text_features": False, "sketch_dim": 32, "hidden_dim": 16, "out_dim": 16, "epochs": 2}
    cfg.hgnn = cfg.hgnn.model_copy(update={**hgnn, "fanouts": [5, 3], "batch_size": 64, "device": "cpu"})
    with one_thread():
        train_hgnn(cfg, HGNN)
    return cfg


def test_recounting_without_any_pair_gives_the_exported_vectors(world) -> None:
    ids, vectors = hgnn_without(world, HGNN, _consumed(world))
    exported_ids, exported = read_vectors(world.embeddings_dir / "hgnn" / HGNN / "items.parquet")
    order = np.argsort(ids)
    assert np.array_equal(ids[order], exported_ids)
    assert np.allclose(vectors[order], exported, atol=1e-5)


def test_the_selection_runs_read_hgnn_vectors_made_without_the_slice(world, monkeypatch) -> None:
    tc = world.two_tower
    tc.epochs, tc.val_days, tc.val_share, tc.patience, tc.history_as_of = 2, 0, 0.3, 0, False
    chosen_on, rows, val, refit_on = selection_and_refit(world, "v20261017t000021_5ec1ed", HGNN, monkeypatch)
    assert val.cat is chosen_on.cat
    cat = refit_on.cat
    held = pd.DataFrame(
        {
            "user_id": chosen_on.hist.user_ids[rows.users[val.rows].numpy()],
            "item_id": cat.item_ids[rows.items[val.rows].numpy()],
        }
    )
    ids, vectors = hgnn_without(world, HGNN, without_pairs(_consumed(world), held))
    without = torch.from_numpy(vectors[np.argsort(ids)][np.searchsorted(np.sort(ids), cat.item_ids)])
    exported_ids, exported = read_vectors(world.embeddings_dir / "hgnn" / HGNN / "items.parquet")
    assert torch.allclose(chosen_on.cat.hgnn, without, atol=1e-6)  # the selection runs: without
    assert np.allclose(cat.hgnn.numpy()[cat.rows(exported_ids)], exported, atol=1e-6)  # refit: all
    changed = (chosen_on.cat.hgnn - cat.hgnn).norm(dim=1) > 1e-4
    assert changed.float().mean() > 0.5  # the slice's pairs moved most items' vectors
    # the selection runs' histories sum the vectors made without the slice (text ++ HGNN)
    assert torch.equal(chosen_on.cat.history[:, -without.shape[1] :], without)
    batch = chosen_on.user_batch(rows, val.rows[:5], leave_out=False, hide=None)
    for k, r in enumerate(val.rows[:5].tolist()):
        mine = (rows.users == rows.users[r]) & ~torch.isin(torch.arange(len(rows.items)), val.rows)
        for t in range(int(cat.type_idx.max()) + 1):
            of_type = mine & (cat.type_idx[rows.items] == t)
            if of_type.any():
                mean = chosen_on.cat.history[rows.items[of_type]].mean(0)
                assert torch.allclose(batch.hist[k, t], mean, atol=1e-5), (k, t)
