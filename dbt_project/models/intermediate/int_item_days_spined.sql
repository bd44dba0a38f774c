-- One row per (item, UTC day) from the item's first day (publication or first event, whichever
-- is earlier, but not before the raw window) to the last day of the raw window.

with

items as (

    select item_id, published_at from {{ ref('stg_landing__items') }}

),

first_events as (

    select item_id, min(event_date) as first_event_date
    from {{ ref('int_interactions_classified') }}
    group by item_id

),

bounds as (

    select
        items.item_id,
        greatest(
            {{ date_var('window_start') }},
            least(
                {{ utc_date('items.published_at') }},
                coalesce(first_events.first_event_date, {{ utc_date('items.published_at') }})
            )
        ) as first_date,
        {{ date_var('window_end') }} - 1 as last_date

    from items
    left join first_events on items.item_id = first_events.item_id

),

spined as (

    select
        item_id,
        cast(first_date + cast(unnest(range(0, date_diff('day', first_date, last_date) + 1)) as integer) as date)
            as feature_date

    from bounds

)

select * from spined
