with

users as (

    select * from {{ ref('stg_landing__users') }}

),

train_items as (

    select user_id, count(*) as n_train_items
    from {{ ref('int_user_items_aggregated') }}
    where is_consumed
    group by user_id

),

final as (

    select
        users.user_id,
        users.country,
        users.age_bucket,
        users.signup_at,
        coalesce(train_items.n_train_items, 0) as n_train_items,
        train_items.user_id is null as is_cold,
        {{ build_created_at() }} as created_at

    from users
    left join train_items on users.user_id = train_items.user_id

)

select * from final
