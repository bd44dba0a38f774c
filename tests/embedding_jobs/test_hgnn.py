from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hgnn_fixtures import tiny_config

from embedding_jobs.data.graph import build_graph
from embedding_jobs.export import read_vectors
from embedding_jobs.train_hgnn import HGNNResult, export_hgnn, holdout_edges, train_hgnn
from gfm.errors import StageError

VERSION = "v20261130t000000_aaaaaa"


@pytest.fixture(scope="module")
def trained(_tiny_with_text: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, HGNNResult]:
    data = tmp_path_factory.mktemp("hgnn") / "data"
    shutil.copytree(_tiny_with_text, data)
    cfg = tiny_config(data)
    cfg.two_tower.hgnn_as_of = True  # (the default) the HGNN then also writes isolated_items.parquet
    return data, train_hgnn(cfg, VERSION)


def test_every_item_gets_a_unit_vector_of_out_dim(trained: tuple[Path, HGNNResult]) -> None:
    data, result = trained
    items = pd.read_parquet(tiny_config(data).marts_dir / "dim_items.parquet")
    ids, vectors = read_vectors(result.items_path)
    assert sorted(ids.tolist()) == sorted(items["item_id"].tolist())  # isolated items included
    assert vectors.shape == (len(items), 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    table = pd.read_parquet(result.items_path)
    assert list(table.columns) == ["item_id", "version", "vector", "created_at"]
    assert (table["version"] == VERSION).all()


def test_card_records_config_fingerprint_metrics_and_seeds(trained: tuple[Path, HGNNResult]) -> None:
    _, result = trained
    card = json.loads((result.checkpoint_dir / "card.json").read_text())
    assert card["version"] == VERSION and card["model"] == "hgnn"
    assert card["config"]["hgnn"]["out_dim"] == 32
    assert len(card["data_fingerprint"]) >= 16
    assert card["seeds"]["hgnn"] == 13
    assert card["metrics"]["final_loss"] < card["metrics"]["epoch_losses"][0]
    assert (result.checkpoint_dir / "model.pt").exists()


def test_held_out_co_consumed_pairs_score_above_random_pairs(trained: tuple[Path, HGNNResult]) -> None:
    data, result = trained
    assert result.metrics["heldout_link_auc"] > 0.8
    cfg = tiny_config(data)
    graph = build_graph(cfg.marts_dir)
    ids, vectors = read_vectors(result.items_path)
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    rng = np.random.default_rng(0)
    pos, neg = [], []
    for (a, b), rows in holdout_edges(graph, cfg.hgnn.seed).items():
        ia, ib = (
            graph.item_ids[a][graph.pairs[(a, b)][0][rows]],
            graph.item_ids[b][graph.pairs[(a, b)][1][rows]],
        )
        rand = rng.choice(graph.item_ids[b], size=len(ia))
        pos += [by_id[x] @ by_id[y] for x, y in zip(ia, ib, strict=True)]
        neg += [by_id[x] @ by_id[y] for x, y in zip(ia, rand, strict=True)]
    assert len(pos) > 0
    assert np.mean(pos) > np.mean(neg) + 0.1


def test_same_seed_gives_identical_vectors(trained: tuple[Path, HGNNResult], tiny_data: Path) -> None:
    _, first = trained
    second = train_hgnn(tiny_config(tiny_data), VERSION)
    ids1, v1 = read_vectors(first.items_path)
    ids2, v2 = read_vectors(second.items_path)
    np.testing.assert_array_equal(ids1, ids2)
    np.testing.assert_array_equal(v1, v2)


def test_reexport_from_checkpoint_matches_and_embeds_new_items_and_edgeless_types(
    trained: tuple[Path, HGNNResult], tmp_path: Path
) -> None:
    data, result = trained
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    cfg = tiny_config(copy)
    assert np.array_equal(read_vectors(export_hgnn(cfg, VERSION))[1], read_vectors(result.items_path)[1])
    # new items, and a whole new content type without any edge (texts reuse cached ones)
    items_file = cfg.marts_dir / "dim_items.parquet"
    items = pd.read_parquet(items_file)
    isolated = items.loc[items["n_train_users"] == 0].head(1)
    new = pd.concat([items.head(3), isolated]).copy()
    new["item_id"] = [90001, 90002, 90003, 90004]
    new["content_type"] = ["episode", "episode", "podcast", isolated["content_type"].iloc[0]]
    pd.concat([items, new]).to_parquet(items_file, index=False)
    ids, vectors = read_vectors(export_hgnn(cfg, VERSION))
    assert set(new["item_id"]) <= set(ids.tolist())
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    by_id = dict(zip(ids.tolist(), vectors, strict=True))
    # a new isolated item is embedded from its own text through the shared root transform, so
    # a copy of an isolated item's text and type gets exactly that item's vector
    np.testing.assert_allclose(by_id[90004], by_id[int(isolated["item_id"].iloc[0])], atol=1e-6)


def test_type_without_edges_still_trains_and_gets_vectors(tiny_data: Path) -> None:
    cfg = tiny_config(tiny_data, epochs=2)
    items_file = cfg.marts_dir / "dim_items.parquet"
    items = pd.read_parquet(items_file)
    extra = items.head(3).copy()
    extra["item_id"] = [80001, 80002, 80003]
    extra["content_type"] = "episode"
    pd.concat([items, extra]).to_parquet(items_file, index=False)
    result = train_hgnn(cfg, VERSION)
    ids, vectors = read_vectors(result.items_path)
    rows = np.isin(ids, extra["item_id"].to_numpy())
    assert rows.sum() == 3
    np.testing.assert_allclose(np.linalg.norm(vectors[rows], axis=1), 1.0, atol=1e-5)


def test_empty_graph_is_a_typed_error(tiny_data: Path) -> None:
    cfg = tiny_config(tiny_data)
    edges_file = cfg.marts_dir / "fct_item_edges.parquet"
    pd.read_parquet(edges_file).head(0).to_parquet(edges_file, index=False)
    with pytest.raises(StageError, match="no co-consumption edges"):
        train_hgnn(cfg, VERSION)


def test_id_embeddings_train_without_text_and_reexport_identically(tmp_path: Path) -> None:
    from hgnn_fixtures import write_marts

    cfg = tiny_config(tmp_path, id_embeddings=True, epochs=2)
    write_marts(cfg.marts_dir)
    result = train_hgnn(cfg, VERSION)
    assert not (cfg.embeddings_dir / "text").exists()
    ids, vectors = read_vectors(result.items_path)
    assert vectors.shape == (len(ids), 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(read_vectors(export_hgnn(cfg, VERSION))[1], vectors)


@pytest.mark.parametrize("aggr", ["max", "mean"])
def test_layer_equals_pyg_heteroconv_of_sage_convs(aggr: str) -> None:
    from torch_geometric.nn import HeteroConv, SAGEConv

    from embedding_jobs.data.sampler import CSR, NeighborSampler
    from embedding_jobs.models.hgnn import HeteroSAGEConv

    torch.manual_seed(0)
    ets = [("a", "co", "a"), ("b", "rev", "a"), ("a", "co", "b")]
    csr = {
        ets[0]: CSR(torch.tensor([0, 2, 3, 5, 5]), torch.tensor([1, 2, 0, 0, 1])),
        ets[1]: CSR(torch.tensor([0, 2, 2, 3, 4]), torch.tensor([0, 1, 2, 1])),
        ets[2]: CSR(torch.tensor([0, 1, 3, 3]), torch.tensor([0, 1, 3])),
    }
    block = NeighborSampler(csr, [3], generator=torch.Generator().manual_seed(0)).sample(
        {"a": torch.tensor([0, 1, 2, 3]), "b": torch.tensor([0, 1, 2])}
    )[0]
    h = {t: torch.randn(len(nodes), 6) for t, nodes in block.src_nodes.items()}
    ours = HeteroSAGEConv(ets, in_dim=6, proj_dim=6, out_dim=4, aggr=aggr)
    pyg = HeteroConv({et: SAGEConv((6, 6), 4, aggr=aggr, project=True) for et in ets}, aggr="sum")
    with torch.no_grad():
        for et in ets:
            key, conv = "__".join(et), pyg.convs[et]
            conv.lin.weight.copy_(ours.proj[key].weight)
            conv.lin.bias.copy_(ours.proj[key].bias)
            conv.lin_l.weight.copy_(ours.neigh[key].weight)
            conv.lin_l.bias.zero_()
            conv.lin_r.weight.zero_()
        # the shared root transform = the sum of PyG's per-relation root weights and biases
        pyg.convs[ets[0]].lin_r.weight.copy_(ours.root.weight)
        pyg.convs[ets[0]].lin_l.bias.copy_(ours.root.bias)
        pyg.convs[ets[2]].lin_r.weight.copy_(ours.root.weight)
        pyg.convs[ets[2]].lin_l.bias.copy_(ours.root.bias)
    expected = pyg(h, {et: block.edge_index(et) for et in ets})
    got = ours(h, block)
    for t in ("a", "b"):
        torch.testing.assert_close(got[t], expected[t][: block.n_dst[t]])


def test_isolated_vectors_are_the_items_embedded_without_any_edge(trained: tuple[Path, HGNNResult]) -> None:
    """``isolated_items.parquet``: what a fresh item gets, for the two-tower's as-of HGNN inputs."""
    from gfm.naming import export_path

    data, result = trained
    cfg = tiny_config(data)
    iso_ids, iso = read_vectors(export_path(cfg.embeddings_dir, "hgnn", VERSION, "isolated_item"))
    ids, full = read_vectors(result.items_path)
    assert iso_ids.tolist() == ids.tolist()
    edges = pd.read_parquet(cfg.marts_dir / "fct_item_edges.parquet")
    linked = set(edges["src_item_id"]).union(edges["dst_item_id"])
    has_edge = np.isin(ids, list(linked))
    assert has_edge.any() and (~has_edge).any(), "the tiny graph should hold linked and unlinked items"
    # an item without an edge is embedded the same way in both files; a linked one is not
    np.testing.assert_allclose(iso[~has_edge], full[~has_edge], atol=1e-6)
    assert np.abs(iso[has_edge] - full[has_edge]).max(axis=1).min() > 1e-4


def test_partners_are_the_edges_of_the_graph_the_vectors_were_embedded_on(
    trained: tuple[Path, HGNNResult],
) -> None:
    """``partners.parquet``: each item's partners in ``fct_item_edges``, for the served mixture."""
    from embedding_jobs.partners import Partners
    from gfm.naming import export_path

    data, _ = trained
    cfg = tiny_config(data)
    partners = Partners.read(export_path(cfg.embeddings_dir, "hgnn", VERSION, "partner"))
    edges = pd.read_parquet(cfg.marts_dir / "fct_item_edges.parquet")
    types = pd.read_parquet(cfg.marts_dir / "dim_items.parquet").set_index("item_id")["content_type"]
    expected: dict[int, set[int]] = {}
    for a, b in zip(edges["src_item_id"], edges["dst_item_id"], strict=True):
        if a != b:
            expected.setdefault(int(a), set()).add(int(b))
            expected.setdefault(int(b), set()).add(int(a))
    assert expected and set(partners.item_ids.tolist()) == set(expected)
    for item, mates in expected.items():
        assert partners.of(item).tolist() == sorted(mates)
        for ctype in set(types):
            assert partners.of(item, ctype).tolist() == sorted(m for m in mates if types[m] == ctype)
