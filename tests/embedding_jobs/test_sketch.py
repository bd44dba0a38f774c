"""The co-consumption sketch: fixed identities, JL inner products, training and re-export with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hgnn_fixtures import tiny_config

from embedding_jobs.checkpoint import load_checkpoint
from embedding_jobs.data.graph import graph_from_frames
from embedding_jobs.data.sketch import hashed_identity, neighbourhood_sketch, with_sketch
from embedding_jobs.export import read_vectors
from embedding_jobs.text_query import TextQueryEncoder
from embedding_jobs.train_hgnn import export_hgnn, train_hgnn
from gfm.errors import StageError
from gfm.naming import checkpoint_dir

VERSION = "v20261204t000000_5ce7c0"


def _graph(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two content types, random weighted edges."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame({"item_id": np.arange(1000, 1000 + n), "content_type": ["a", "b"] * (n // 2)})
    src = rng.integers(1000, 1000 + n, size=6 * n)
    dst = rng.integers(1000, 1000 + n, size=6 * n)
    edges = pd.DataFrame({"src_item_id": src, "dst_item_id": dst, "n_co_users": rng.integers(1, 9, 6 * n)})
    edges = edges[edges["src_item_id"] != edges["dst_item_id"]]
    edges = edges.drop_duplicates(["src_item_id", "dst_item_id"])
    return items, edges


def test_identities_depend_only_on_the_item_id_and_are_nearly_orthogonal() -> None:
    ids = np.arange(5000, 7000, dtype=np.int64)
    r = hashed_identity(ids, 512)
    again = hashed_identity(ids[::-1].copy(), 512)
    np.testing.assert_array_equal(r.toarray(), again.toarray()[::-1])  # order-free, reproducible
    assert not np.array_equal(r.toarray(), hashed_identity(ids, 512, salt=1).toarray())
    dense = r.toarray()
    gram = dense @ dense.T
    off = gram[~np.eye(len(ids), dtype=bool)]
    assert abs(float(np.diag(gram).mean()) - 1.0) < 0.05
    assert float(np.abs(off).mean()) < 0.06  # about sqrt(2 / (pi * 512)) = .035 for dense signs


def test_sketch_inner_products_estimate_the_cosine_of_co_consumption_rows() -> None:
    items, edges = _graph()
    graph = graph_from_frames(items, edges)
    sketch = neighbourhood_sketch(graph, 2048)
    # the exact quantity: cosine of rows of the cosine-normalised weighted adjacency
    idx = {int(i): k for k, i in enumerate(items["item_id"])}
    n = len(items)
    adj = np.zeros((n, n))
    for s, d, w in edges[["src_item_id", "dst_item_id", "n_co_users"]].itertuples(index=False):
        adj[idx[s], idx[d]] = adj[idx[d], idx[s]] = max(adj[idx[s], idx[d]], w)
    deg = adj.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1e-12)), 0)
    rows = inv[:, None] * adj * inv[None, :]
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    exact = rows @ rows.T
    # sketch rows in the same (global item id) order
    order = np.concatenate([graph.item_ids[t] for t in graph.node_types])
    stacked = torch.cat([sketch[t] for t in graph.node_types]).numpy()
    est = np.empty_like(stacked)
    est[[idx[int(i)] for i in order]] = stacked
    approx = est @ est.T
    mask = ~np.eye(n, dtype=bool)
    assert np.corrcoef(exact[mask], approx[mask])[0, 1] > 0.9
    assert float(np.abs(exact[mask] - approx[mask]).mean()) < 0.03


def test_items_without_edges_get_a_zero_sketch_and_features_keep_their_text() -> None:
    items, edges = _graph(40)
    items = pd.concat([items, pd.DataFrame({"item_id": [99999], "content_type": ["a"]})], ignore_index=True)
    text = np.random.default_rng(1).normal(size=(len(items), 8)).astype(np.float32)
    graph = graph_from_frames(items, edges, (items["item_id"].to_numpy(), text))
    sk = with_sketch(graph, 16)
    assert graph.features is not None and sk.features is not None
    for t in graph.node_types:
        assert sk.features[t].shape == (len(graph.item_ids[t]), 24)
        torch.testing.assert_close(sk.features[t][:, :8], graph.features[t])
    lonely = int(np.searchsorted(graph.item_ids["a"], 99999))
    assert torch.count_nonzero(sk.features["a"][lonely, 8:]) == 0
    assert with_sketch(graph, 0) is graph


def test_held_out_pairs_never_reach_the_sketch() -> None:
    items, edges = _graph(60)
    graph = graph_from_frames(items, edges)
    everything = {key: np.arange(len(a)) for key, (a, _) in graph.pairs.items()}
    alone = neighbourhood_sketch(graph.without_pairs(everything), 32)
    assert all(torch.count_nonzero(v) == 0 for v in alone.values())


def test_hgnn_trains_with_a_sketch_and_reexports_identically(_tiny_with_text: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(_tiny_with_text, data)
    cfg = tiny_config(data, sketch_dim=64, epochs=2)
    result = train_hgnn(cfg, VERSION)
    assert result.metrics["heldout_item_hr@10"] is not None
    _, vectors = read_vectors(result.items_path)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the checkpoint remembers the sketch: a re-export with sketch_dim 0 in the config matches
    plain = tiny_config(data, epochs=2)
    np.testing.assert_allclose(read_vectors(export_hgnn(plain, VERSION))[1], vectors, atol=1e-6)
    # and the sketch matters: the same model without it embeds differently
    without = tiny_config(data, epochs=2)
    other = train_hgnn(without, "v20261204t000000_0c0000")
    assert not np.allclose(read_vectors(other.items_path)[1], vectors)


def test_without_text_the_sketch_is_the_whole_input(_tiny_with_text: Path, tmp_path: Path) -> None:
    """``hgnn.text_features`` off (a source without item text): no text vectors are read, the model
    reads only the sketch, re-exports the same vectors, and refuses text queries with a reason."""
    data = tmp_path / "data"
    shutil.copytree(_tiny_with_text, data)
    cfg = tiny_config(data, sketch_dim=64, epochs=2, text_features=False)
    result = train_hgnn(cfg, VERSION)
    assert result.metrics["heldout_item_hr@10"] is not None
    state, _ = load_checkpoint(checkpoint_dir(cfg.models_dir, "hgnn", VERSION), map_location="cpu")
    assert state["spec"]["in_dim"] == state["spec"]["sketch_dim"] == 64
    _, vectors = read_vectors(result.items_path)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the config's text_features is not needed to re-export: the checkpoint says what it read
    np.testing.assert_allclose(read_vectors(export_hgnn(tiny_config(data), VERSION))[1], vectors, atol=1e-6)
    with pytest.raises(StageError, match="sketches alone"):
        TextQueryEncoder(cfg, VERSION)


def test_without_text_and_without_sketch_the_hgnn_refuses_clearly(
    _tiny_with_text: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(_tiny_with_text, sketch_dim=0, text_features=False)
    with pytest.raises(StageError, match="no input"):
        train_hgnn(cfg, VERSION)
