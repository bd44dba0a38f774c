from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hgnn_fixtures import write_marts

from embedding_jobs.data.graph import build_graph, graph_from_frames
from gfm.errors import StageError


def _items() -> pd.DataFrame:
    return pd.DataFrame(
        {"item_id": [10, 11, 12, 20, 21, 30], "content_type": ["book", "book", "book", "pod", "pod", "pod"]}
    )


def _edges(pairs: list[tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["src_item_id", "dst_item_id"])


def test_every_item_is_a_node_and_relations_have_explicit_reverses() -> None:
    g = graph_from_frames(_items(), _edges([(10, 11), (10, 20), (21, 11), (20, 21)]))
    assert g.node_types == ["book", "pod"]
    assert g.num_nodes == {"book": 3, "pod": 3}  # 12 and 30 are isolated but present
    assert g.edge_types == [
        ("book", "co_consumed", "book"),
        ("book", "co_consumed", "pod"),
        ("pod", "co_consumed", "pod"),
        ("pod", "rev_co_consumed", "book"),
    ]
    assert g.num_edges == 4
    # book 10 (local 0) has pod neighbour 20 (local 0); pod 21 (local 1) has book 11 (local 1)
    rev = g.csr[("pod", "rev_co_consumed", "book")]
    assert rev.indices[rev.indptr[0] : rev.indptr[1]].tolist() == [0]
    fwd = g.csr[("book", "co_consumed", "pod")]
    assert fwd.indices[fwd.indptr[1] : fwd.indptr[2]].tolist() == [1]


def test_same_type_edges_are_symmetric_and_duplicates_or_self_loops_dropped() -> None:
    g = graph_from_frames(_items(), _edges([(10, 11), (11, 10), (12, 12)]))
    csr = g.csr[("book", "co_consumed", "book")]
    neighbours = {i: csr.indices[csr.indptr[i] : csr.indptr[i + 1]].tolist() for i in range(3)}
    assert neighbours == {0: [1], 1: [0], 2: []}
    assert g.num_edges == 1


def test_locate_maps_ids_to_type_and_local_index_and_unknown_to_minus_one() -> None:
    g = graph_from_frames(_items(), _edges([]))
    types, local = g.locate(np.array([30, 10, 999]))
    assert types.tolist() == [1, 0, -1]
    assert local.tolist() == [2, 0, -1]


def test_graph_without_edges_still_has_every_node() -> None:
    g = graph_from_frames(_items(), _edges([]))
    assert g.num_edges == 0 and g.edge_types == []
    assert sum(g.num_nodes.values()) == 6


def test_edge_to_unknown_item_is_a_typed_error() -> None:
    with pytest.raises(StageError, match="missing from dim_items"):
        graph_from_frames(_items(), _edges([(10, 77)]))


def test_features_are_placed_by_item_id_and_missing_ones_are_an_error() -> None:
    ids = np.array([30, 21, 20, 12, 11, 10])
    vectors = np.arange(12, dtype=np.float32).reshape(6, 2)
    g = graph_from_frames(_items(), _edges([]), (ids, vectors))
    assert g.features is not None
    assert g.features["book"][0].tolist() == vectors[5].tolist()  # item 10
    with pytest.raises(StageError, match="no feature vector"):
        graph_from_frames(_items(), _edges([]), (ids[1:], vectors[1:]))


def test_build_graph_from_marts_and_held_out_edges_leave_message_passing(tmp_path: Path) -> None:
    items, edges = write_marts(tmp_path / "marts")
    g = build_graph(tmp_path / "marts")
    assert sum(g.num_nodes.values()) == len(items)
    assert g.num_edges == len(edges)
    key = ("audiobook", "podcast")
    smaller = g.without_pairs({key: np.array([0, 1])})
    assert len(smaller.pairs[key][0]) == len(g.pairs[key][0]) - 2
    csr = smaller.csr[("audiobook", "co_consumed", "podcast")]
    assert int(csr.indptr[-1]) == len(g.pairs[key][0]) - 2


def test_missing_mart_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="gfm transform"):
        build_graph(tmp_path)


def test_the_weight_column_named_gives_the_edge_weights() -> None:
    edges = pd.DataFrame(
        {
            "src_item_id": [10, 20],
            "dst_item_id": [11, 10],
            "n_co_users": [4, 2],
            "co_user_weight": [0.5, 0.25],
        }
    )
    counts = graph_from_frames(_items(), edges).weights
    shares = graph_from_frames(_items(), edges, weight="co_user_weight").weights
    assert counts is not None and shares is not None
    assert sorted(counts[("book", "book")].tolist() + counts[("book", "pod")].tolist()) == [2.0, 4.0]
    assert shares[("book", "book")].tolist() == [0.5] and shares[("book", "pod")].tolist() == [0.25]


def test_marts_without_the_weight_column_ask_for_a_new_transform(tmp_path: Path) -> None:
    write_marts(tmp_path / "marts")
    edges = pd.read_parquet(tmp_path / "marts" / "fct_item_edges.parquet")
    edges.drop(columns=[c for c in ("co_user_weight",) if c in edges]).to_parquet(
        tmp_path / "marts" / "fct_item_edges.parquet"
    )
    with pytest.raises(StageError, match=r"co_user_weight.*gfm transform"):
        build_graph(tmp_path / "marts", weight="co_user_weight")


def test_the_hgnn_reads_the_weight_column_its_config_names(tmp_path: Path) -> None:
    from hgnn_fixtures import tiny_config

    from embedding_jobs.train_hgnn import load_hgnn_graph

    _, edges = write_marts(tmp_path / "marts")
    for column in ("n_co_users", "co_user_weight"):
        cfg = tiny_config(tmp_path, id_embeddings=True, edge_weight=column)
        graph, _ = load_hgnn_graph(cfg)
        assert graph.weights is not None
        got = sorted(w for ws in graph.weights.values() for w in ws.tolist())
        assert got == sorted(edges[column].astype(float).tolist())
