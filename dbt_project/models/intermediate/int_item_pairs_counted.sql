-- Undirected item pairs with their co-user count over training-window consumptions.
-- Users with more than max_items_per_user consumed items are left out (bots, hubs); pairs below
-- min_support are dropped. Orientation follows the contract: src has the alphabetically first
-- content type, and for a same-type pair src_item_id < dst_item_id.

with

baskets as (

    select distinct user_id, item_id, content_type
    from {{ ref('int_interactions_classified') }}
    where split_window = 'train' and is_consumption

),

eligible_users as (

    select user_id
    from baskets
    group by user_id
    having count(*) <= {{ var('max_items_per_user') }}

),

eligible_baskets as (

    select baskets.*
    from baskets
    semi join eligible_users on baskets.user_id = eligible_users.user_id

),

pairs as (

    select
        a.item_id as item_a,
        b.item_id as item_b,
        a.content_type as type_a,
        b.content_type as type_b,
        count(*) as n_co_users

    from eligible_baskets as a
    inner join eligible_baskets as b
        on a.user_id = b.user_id and a.item_id < b.item_id
    group by a.item_id, b.item_id, a.content_type, b.content_type
    having count(*) >= {{ var('min_support') }}

),

oriented as (

    select
        case when type_a <= type_b then item_a else item_b end as src_item_id,
        case when type_a <= type_b then item_b else item_a end as dst_item_id,
        least(type_a, type_b) as src_type,
        greatest(type_a, type_b) as dst_type,
        n_co_users

    from pairs

)

select * from oriented
