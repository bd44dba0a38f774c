-- Undirected item pairs with their co-user count over training-window consumptions.
-- Users with more than max_items_per_user consumed items are left out (bots, hubs); pairs below
-- min_support are dropped. Orientation follows the contract: src has the alphabetically first
-- content type, and for a same-type pair src_item_id < dst_item_id.
-- co_user_weight: the co-users' sum of 1 / (their consumed items) (a user of 300 items says less
-- about any one pair than a user of 3); the HGNN may weigh edges by it (hgnn.edge_weight).
-- similarity: each co-user counts 1 / (their consumed items) (a user of 300 items says less about
-- any one pair than a user of 3), over sqrt(consumers of a * consumers of b): the cosine of the
-- two items' user columns with users normalised as LightGCN and GF-CF normalise them. The degree
-- cap may rank by it (degree_cap_rank). The per-user share is rounded to a fixed decimal, so its
-- sum is exact and the same in any summation order (any engine, any thread count).

with

baskets as (

    select distinct user_id, item_id, content_type
    from {{ ref('int_interactions_classified') }}
    where split_window = 'train' and is_consumption

),

eligible_users as (

    select
        user_id,
        cast(round(cast(1 as double) / count(*), 12) as decimal(18, 12)) as user_share
    from baskets
    group by user_id
    having count(*) <= {{ var('max_items_per_user') }}

),

eligible_baskets as (

    select baskets.*, eligible_users.user_share
    from baskets
    inner join eligible_users on baskets.user_id = eligible_users.user_id

),

item_consumers as (

    select item_id, count(*) as n_consumers
    from eligible_baskets
    group by item_id

),

pairs as (

    select
        a.item_id as item_a,
        b.item_id as item_b,
        a.content_type as type_a,
        b.content_type as type_b,
        count(*) as n_co_users,
        sum(a.user_share) as shared_weight

    from eligible_baskets as a
    inner join eligible_baskets as b
        on a.user_id = b.user_id and a.item_id < b.item_id
    group by a.item_id, b.item_id, a.content_type, b.content_type
    having count(*) >= {{ var('min_support') }}

),

oriented as (

    select
        case when pairs.type_a <= pairs.type_b then pairs.item_a else pairs.item_b end as src_item_id,
        case when pairs.type_a <= pairs.type_b then pairs.item_b else pairs.item_a end as dst_item_id,
        least(pairs.type_a, pairs.type_b) as src_type,
        greatest(pairs.type_a, pairs.type_b) as dst_type,
        pairs.n_co_users,
        cast(pairs.shared_weight as double) as co_user_weight,
        cast(pairs.shared_weight as double)
            / sqrt(cast(ca.n_consumers as double) * cast(cb.n_consumers as double)) as similarity

    from pairs
    inner join item_consumers as ca on pairs.item_a = ca.item_id
    inner join item_consumers as cb on pairs.item_b = cb.item_id

)

select * from oriented
