"""The item graph's edges counted from a frame of consumptions, by the rules of the dbt marts.

``fct_item_edges`` is built by dbt from every training-window consumption
(``int_item_pairs_counted``, ``int_item_edges_ranked``, ``fct_item_edges``). A job that must see
the graph as if some pairs had never happened (the two-tower's random validation slice,
``embedding_jobs.held_out_graph``) recounts it here from the consumptions it keeps, with the
same rules: distinct (user, item) consumptions; users with more than ``max_items_per_user``
items left out; pairs with at least ``min_support`` co-users; each pair kept when it is within
the ``degree_cap`` edges of both endpoints, ranked as ``degree_cap_rank`` says (ties by the
neighbour's id), per item or, with ``degree_cap_scope`` "relation", per item and neighbour type.
``tests/warehouse/test_item_edges.py`` checks this against the dbt mart itself.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from gfm.config import GraphConfig

__all__ = ["count_item_edges"]

_SQL = """
with baskets as (
    select distinct user_id, item_id, content_type from consumptions
),
eligible as (
    select user_id, cast(round(cast(1 as double) / count(*), 12) as decimal(18, 12)) as user_share
    from baskets group by user_id having count(*) <= $max_items
),
kept as (
    select baskets.*, eligible.user_share
    from baskets inner join eligible on baskets.user_id = eligible.user_id
),
consumers as (
    select item_id, count(*) as n_consumers from kept group by item_id
),
pairs as (
    select a.item_id as item_a, b.item_id as item_b, a.content_type as type_a,
        b.content_type as type_b, count(*) as n_co_users, sum(a.user_share) as shared_weight
    from kept as a inner join kept as b on a.user_id = b.user_id and a.item_id < b.item_id
    group by a.item_id, b.item_id, a.content_type, b.content_type
    having count(*) >= $min_support
),
scored as (
    select pairs.*, cast(shared_weight as double) as co_user_weight, cast(shared_weight as double)
        / sqrt(cast(ca.n_consumers as double) * cast(cb.n_consumers as double)) as similarity
    from pairs
    inner join consumers as ca on pairs.item_a = ca.item_id
    inner join consumers as cb on pairs.item_b = cb.item_id
),
endpoints as (
    select item_a as item_id, item_b as neighbour_id, type_b as neighbour_type, item_a, item_b,
        n_co_users, similarity from scored
    union all
    select item_b, item_a, type_a, item_a, item_b, n_co_users, similarity from scored
),
ranked as (
    select item_a, item_b, row_number() over (
        partition by item_id{scope} order by {rank} desc, neighbour_id asc
    ) as rank_at_item
    from endpoints
),
capped as (
    select item_a, item_b from ranked group by item_a, item_b having max(rank_at_item) <= $cap
)
select scored.item_a as src_item_id, scored.item_b as dst_item_id, scored.n_co_users,
    scored.co_user_weight, scored.similarity
from scored semi join capped on scored.item_a = capped.item_a and scored.item_b = capped.item_b
order by src_item_id, dst_item_id
"""


def count_item_edges(consumptions: pd.DataFrame, graph: GraphConfig) -> pd.DataFrame:
    """Co-consumption edges of ``consumptions``, as ``fct_item_edges`` counts them.

    Args:
        consumptions: ``user_id``, ``item_id`` and ``content_type`` of training-window
            consumptions (repeats are counted once).
        graph: The graph rules (``min_support``, ``degree_cap``, ``degree_cap_scope``,
            ``degree_cap_rank``, ``max_items_per_user``).

    Returns:
        ``src_item_id``, ``dst_item_id`` (the smaller id first; ``graph_from_frames`` orients
        them by type), ``n_co_users``, ``co_user_weight`` and ``similarity``, one row per kept undirected pair.

    """
    frame = consumptions[["user_id", "item_id", "content_type"]].astype(
        {"user_id": "int64", "item_id": "int64", "content_type": "string"}
    )
    scope = ", neighbour_type" if graph.degree_cap_scope == "relation" else ""
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")  # a job's own progress is on screen
        con.register("consumptions", frame)
        params = {
            "max_items": graph.max_items_per_user,
            "min_support": graph.min_support,
            "cap": graph.degree_cap,
        }
        rank = "n_co_users" if graph.degree_cap_rank == "co_users" else "similarity"
        return con.execute(_SQL.format(scope=scope, rank=rank), params).df()
    finally:
        con.close()
