-- The (item, UTC day) pairs that get a feature snapshot: the item's first day (publication or
-- first event, whichever is earlier, not before the raw window) and every day whose trailing
-- 90 days hold a consumption of the item, up to the end of the raw window.

with

items as (

    select item_id, published_at from {{ ref('stg_landing__items') }}

),

event_days as (

    select distinct item_id, event_date
    from {{ ref('int_interactions_classified') }}
    where is_consumption

),

first_days as (

    select
        items.item_id,
        greatest(
            {{ date_var('window_start') }},
            least({{ utc_date('items.published_at') }}, coalesce(min(event_days.event_date), {{ utc_date('items.published_at') }}))
        ) as first_date

    from items
    left join event_days on items.item_id = event_days.item_id
    group by items.item_id, items.published_at

),

spined as (

    {{ active_day_spine('item_id', 'first_days', 'event_days') }}

)

select * from spined
