-- Per (item, UTC day) with consumptions: streams, distinct listeners, and new listeners (users
-- consuming the item for the first time in the raw window).

with

consumptions as (

    select user_id, item_id, event_date
    from {{ ref('int_interactions_classified') }}
    where is_consumption

),

daily_counts as (

    select
        item_id,
        event_date as feature_date,
        count(*) as n_streams,
        count(distinct user_id) as n_listeners

    from consumptions
    group by item_id, event_date

),

first_listens as (

    select user_id, item_id, min(event_date) as feature_date
    from consumptions
    group by user_id, item_id

),

new_listeners as (

    select item_id, feature_date, count(*) as n_new_listeners
    from first_listens
    group by item_id, feature_date

),

joined as (

    select
        daily_counts.item_id,
        daily_counts.feature_date,
        daily_counts.n_streams,
        daily_counts.n_listeners,
        coalesce(new_listeners.n_new_listeners, 0) as n_new_listeners

    from daily_counts
    left join new_listeners
        on daily_counts.item_id = new_listeners.item_id
        and daily_counts.feature_date = new_listeners.feature_date

)

select * from joined
