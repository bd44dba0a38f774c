with

items as (

    select * from {{ ref('stg_landing__items') }}

),

train_users as (

    select item_id, count(*) as n_train_users
    from {{ ref('int_user_items_aggregated') }}
    where is_consumed
    group by item_id

),

final as (

    select
        items.item_id,
        items.content_type,
        items.title,
        items.description,
        items.language,
        items.genre,
        items.creator_id,
        items.published_at,
        coalesce(train_users.n_train_users, 0) as n_train_users,
        train_users.item_id is null as is_cold,
        {{ build_created_at() }} as created_at

    from items
    left join train_users on items.item_id = train_users.item_id

)

select * from final
