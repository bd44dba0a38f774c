-- Item-item co-consumption edges over the training window, for every pair of content types.
-- An edge has n_co_users >= min_support and is among the top degree_cap edges of both endpoints
-- (ranked as degree_cap_rank says; int_item_edges_ranked).

with

ranked as (

    select * from {{ ref('int_item_edges_ranked') }}

),

final as (

    select
        src_item_id,
        dst_item_id,
        src_type,
        dst_type,
        src_type || '__' || dst_type as relation,
        n_co_users,
        co_user_weight,
        similarity

    from ranked
    where rank_at_src <= {{ var('degree_cap') }}
        and rank_at_dst <= {{ var('degree_cap') }}

)

select * from final
