-- Each supported pair with its rank among the edges of each endpoint, descending by similarity
-- (degree_cap_rank 'similarity', the default) or by n_co_users ('co_users'), ties by the
-- neighbour's id. fct_item_edges keeps the pairs within degree_cap at both ends. Ranked by
-- co-users, a popular neighbour fills an item's cap for being popular, and two popular items
-- rarely rank each other in their caps: the similarity keeps the neighbours item-kNN would.
-- With degree_cap_scope 'relation' (opt-in) an item's edges are ranked per content type of
-- the neighbour, so a podcast's few audiobook neighbours are not crowded out by its many podcast
-- neighbours; with 'item', one ranking across every relation.

with

pairs as (

    select * from {{ ref('int_item_pairs_counted') }}

),

endpoints as (

    select
        src_item_id as item_id, dst_item_id as neighbour_id, dst_type as neighbour_type,
        src_item_id, dst_item_id, n_co_users, similarity
    from pairs
    union all
    select
        dst_item_id as item_id, src_item_id as neighbour_id, src_type as neighbour_type,
        src_item_id, dst_item_id, n_co_users, similarity
    from pairs

),

ranked as (

    select
        src_item_id,
        dst_item_id,
        item_id,
        row_number() over (
            partition by item_id{% if var('degree_cap_scope', 'item') == 'relation' %}, neighbour_type{% endif %}
            order by {{ 'n_co_users' if var('degree_cap_rank', 'similarity') == 'co_users' else 'similarity' }} desc, neighbour_id asc
        ) as rank_at_item

    from endpoints

),

joined as (

    select
        pairs.src_item_id,
        pairs.dst_item_id,
        pairs.src_type,
        pairs.dst_type,
        pairs.n_co_users,
        pairs.co_user_weight,
        pairs.similarity,
        at_src.rank_at_item as rank_at_src,
        at_dst.rank_at_item as rank_at_dst

    from pairs
    inner join ranked as at_src
        on pairs.src_item_id = at_src.src_item_id
        and pairs.dst_item_id = at_src.dst_item_id
        and at_src.item_id = pairs.src_item_id
    inner join ranked as at_dst
        on pairs.src_item_id = at_dst.src_item_id
        and pairs.dst_item_id = at_dst.dst_item_id
        and at_dst.item_id = pairs.dst_item_id

)

select * from joined
