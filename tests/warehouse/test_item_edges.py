"""fct_item_edges against an independent pandas computation of co-consumption."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from conftest import GRAPH
from warehouse_fixture import TRAIN_END, WINDOW_START


def expected_edges(
    interactions: pd.DataFrame, items: pd.DataFrame, scope: str = "item", rank: str = "similarity"
) -> pd.DataFrame:
    """Co-users per item pair over training consumptions, then min support and the degree cap.

    ``scope`` "item": one cap over all of an item's edges; "relation": one per neighbour type.
    ``rank`` "similarity": each edge's co-users' sum of 1 / (their items) over sqrt(consumers of
    both ends) ranks it; "co_users": the co-user count does.
    """
    events = interactions[
        (interactions.event_type == "stream")
        & (interactions.ms_played >= GRAPH["min_ms_played"])
        & (interactions.event_at >= pd.Timestamp(WINDOW_START))
        & (interactions.event_at < pd.Timestamp(TRAIN_END))
    ]
    baskets = events.groupby("user_id")["item_id"].apply(lambda s: sorted(set(s)))
    baskets = baskets[baskets.map(len) <= GRAPH["max_items_per_user"]]
    counts: Counter[tuple[int, int]] = Counter()
    shared: defaultdict[tuple[int, int], Decimal] = defaultdict(Decimal)
    consumers: Counter[int] = Counter()
    for basket in baskets:
        share = Decimal(round(1.0 / len(basket), 12)).quantize(Decimal("1e-12"))
        counts.update(itertools.combinations(basket, 2))
        for pair in itertools.combinations(basket, 2):
            shared[pair] += share
        consumers.update(basket)
    kind = dict(zip(items.item_id, items.content_type, strict=True))
    rows = []
    for (a, b), n in counts.items():
        if n < GRAPH["min_support"]:
            continue
        if (kind[a], a) > (kind[b], b):
            a, b = b, a
        lo, hi = min(a, b), max(a, b)
        sim = float(shared[(lo, hi)]) / math.sqrt(float(consumers[a]) * float(consumers[b]))
        weight = float(shared[(lo, hi)])
        rows.append(
            {"src_item_id": a, "dst_item_id": b, "n_co_users": n, "co_user_weight": weight, "similarity": sim}
        )
    pairs = pd.DataFrame(rows)
    neighbours: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for r in pairs.itertuples():
        key = r.similarity if rank == "similarity" else r.n_co_users
        group_at_src = kind[r.dst_item_id] if scope == "relation" else ""
        group_at_dst = kind[r.src_item_id] if scope == "relation" else ""
        neighbours.setdefault((r.src_item_id, group_at_src), []).append((-key, r.dst_item_id))
        neighbours.setdefault((r.dst_item_id, group_at_dst), []).append((-key, r.src_item_id))
    top: dict[int, set[int]] = {}
    for (item, _), edges in neighbours.items():
        top.setdefault(item, set()).update(other for _, other in sorted(edges)[: GRAPH["degree_cap"]])
    keep = [
        r.dst_item_id in top[r.src_item_id] and r.src_item_id in top[r.dst_item_id]
        for r in pairs.itertuples()
    ]
    out = pairs[keep].copy()
    out["src_type"] = out.src_item_id.map(kind)
    out["dst_type"] = out.dst_item_id.map(kind)
    return out.sort_values(["src_item_id", "dst_item_id"]).reset_index(drop=True)


def test_every_edge_counts_the_users_who_consumed_both_items_in_training(built):
    edges = built.query("select * from fct_item_edges order by src_item_id, dst_item_id")
    expected = expected_edges(built.raw("interactions"), built.raw("items"))
    assert len(expected) > 10
    columns = [
        "src_item_id",
        "dst_item_id",
        "src_type",
        "dst_type",
        "n_co_users",
        "co_user_weight",
        "similarity",
    ]
    pd.testing.assert_frame_equal(edges[columns], expected[columns], check_dtype=False)
    assert ((edges.similarity > 0) & (edges.similarity <= 1 + 1e-12)).all()
    assert (edges.co_user_weight < edges.n_co_users).all()  # a user with items to pair has two at least


def test_the_cap_keeps_the_most_similar_neighbours_not_the_most_popular(built):
    """degree_cap_rank: ranked by co-users the cap keeps other edges than by similarity, less similar ones."""
    raw = built.raw("interactions"), built.raw("items")
    by_similarity, by_co_users = expected_edges(*raw), expected_edges(*raw, rank="co_users")
    ours = built.query("select src_item_id, dst_item_id from fct_item_edges")
    assert len(ours) == len(by_similarity)
    kept = {tuple(r) for r in by_similarity[["src_item_id", "dst_item_id"]].to_numpy()}
    other = {tuple(r) for r in by_co_users[["src_item_id", "dst_item_id"]].to_numpy()}
    assert kept != other  # the cap binds on this fixture, so the ranking decides what stays
    assert by_similarity.similarity.mean() > by_co_users.similarity.mean()
    assert by_co_users.n_co_users.mean() > by_similarity.n_co_users.mean()


def test_edges_cover_every_pair_of_content_types_with_contract_names(built):
    edges = built.query("select * from fct_item_edges")
    assert set(edges.relation) == {"audiobook__audiobook", "audiobook__podcast", "podcast__podcast"}
    assert (edges.relation == edges.src_type + "__" + edges.dst_type).all()
    same = edges[edges.src_type == edges.dst_type]
    assert (same.src_item_id < same.dst_item_id).all()


def test_edges_have_no_self_loops_and_respect_support_and_degree_cap(built):
    edges = built.query("select * from fct_item_edges")
    assert (edges.src_item_id != edges.dst_item_id).all()
    assert (edges.n_co_users >= GRAPH["min_support"]).all()
    degree = pd.concat([edges.src_item_id, edges.dst_item_id]).value_counts()
    assert degree.max() == GRAPH["degree_cap"]  # the cap binds on this fixture, and holds


def test_support_before_the_cap_exceeds_what_the_cap_keeps(built):
    before = built.query("select count(*) as n from int_item_pairs_counted").n[0]
    after = built.query("select count(*) as n from fct_item_edges").n[0]
    assert before > after


def test_a_per_relation_cap_keeps_each_relations_top_edges(tmp_path):
    """degree_cap_scope "relation": the cap holds per neighbour type, so more cross-type edges stay."""
    from conftest import make_config
    from warehouse_fixture import write_raw_batch

    from warehouse import run_transform

    cfg = make_config(tmp_path / "data")
    cfg = cfg.model_copy(update={"graph": cfg.graph.model_copy(update={"degree_cap_scope": "relation"})})
    write_raw_batch(cfg.raw_dir)
    run_transform(cfg, show_progress=False)
    edges = pd.read_parquet(cfg.marts_dir / "fct_item_edges.parquet").sort_values(
        ["src_item_id", "dst_item_id"]
    )
    raw = pd.read_parquet(cfg.raw_dir / "interactions"), pd.read_parquet(cfg.raw_dir / "items")
    expected = expected_edges(*raw, scope="relation")
    pd.testing.assert_frame_equal(
        edges[["src_item_id", "dst_item_id", "src_type", "dst_type", "n_co_users"]].reset_index(drop=True),
        expected[["src_item_id", "dst_item_id", "src_type", "dst_type", "n_co_users"]],
        check_dtype=False,
    )
    global_cap = expected_edges(*raw, scope="item")
    cross = edges.src_type != edges.dst_type
    assert cross.sum() > (global_cap.src_type != global_cap.dst_type).sum()  # the cap bound across types


def _unordered(edges: pd.DataFrame) -> pd.DataFrame:
    a, b = edges.src_item_id.to_numpy(), edges.dst_item_id.to_numpy()
    out = pd.DataFrame({"lo": np.minimum(a, b), "hi": np.maximum(a, b), "n": edges.n_co_users.to_numpy()})
    return out.sort_values(["lo", "hi"]).reset_index(drop=True)


@pytest.mark.parametrize(
    ("scope", "rank"), [("item", "similarity"), ("relation", "similarity"), ("item", "co_users")]
)
def test_a_job_recounting_the_edges_from_fct_interactions_gets_the_marts_edges(built, scope, rank):
    """``embedding_jobs.data.edge_count`` follows the dbt rules: support, per-user limit, caps, ranks."""
    from embedding_jobs.data.edge_count import count_item_edges

    consumed = built.query("select user_id, item_id, content_type from fct_interactions where is_consumed")
    rules = built.cfg.graph.model_copy(update={"degree_cap_scope": scope, "degree_cap_rank": rank})
    recount = count_item_edges(consumed, rules)
    raw = built.raw("interactions"), built.raw("items")
    expected = expected_edges(*raw, scope=scope, rank=rank)
    assert len(expected) > 10
    pd.testing.assert_frame_equal(_unordered(recount), _unordered(expected), check_dtype=False)
    in_order = expected.assign(
        lo=np.minimum(expected.src_item_id, expected.dst_item_id),
        hi=np.maximum(expected.src_item_id, expected.dst_item_id),
    ).sort_values(["lo", "hi"])
    for column in ("similarity", "co_user_weight"):
        np.testing.assert_allclose(
            recount.sort_values(["src_item_id", "dst_item_id"])[column], in_order[column], rtol=1e-12
        )
    if scope == "item" and rank == "similarity":  # and the mart itself, built by dbt from the same rules
        mart = built.query("select src_item_id, dst_item_id, n_co_users from fct_item_edges")
        pd.testing.assert_frame_equal(_unordered(recount), _unordered(mart), check_dtype=False)
