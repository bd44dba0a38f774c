-- (user, item) pairs consumed in the evaluation window, with the cold flags of the training window.

with

eval_consumptions as (

    select
        user_id,
        item_id,
        any_value(content_type) as content_type,
        min(event_at) as first_event_at

    from {{ ref('int_interactions_classified') }}
    where split_window = 'eval' and is_consumption
    group by user_id, item_id

),

train_consumed as (

    select user_id, item_id
    from {{ ref('int_user_items_aggregated') }}
    where is_consumed

),

warm_users as (

    select distinct user_id from train_consumed

),

warm_items as (

    select distinct item_id from train_consumed

),

final as (

    select
        eval_consumptions.user_id,
        eval_consumptions.item_id,
        eval_consumptions.content_type,
        eval_consumptions.first_event_at,
        warm_users.user_id is null as is_cold_user,
        warm_items.item_id is null as is_cold_item,
        train_consumed.user_id is not null as in_train

    from eval_consumptions
    left join warm_users on eval_consumptions.user_id = warm_users.user_id
    left join warm_items on eval_consumptions.item_id = warm_items.item_id
    left join train_consumed
        on eval_consumptions.user_id = train_consumed.user_id
        and eval_consumptions.item_id = train_consumed.item_id

)

select * from final
