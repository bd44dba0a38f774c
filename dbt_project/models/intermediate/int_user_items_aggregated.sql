-- One row per (user, item) with any event in the training window: counts by event type.
-- n_streams counts consumptions only; ms_played_total sums every stream, short ones included.

with

train_events as (

    select * from {{ ref('int_interactions_classified') }}
    where split_window = 'train'

),

aggregated as (

    select
        user_id,
        item_id,
        any_value(content_type) as content_type,
        count(*) filter (where is_consumption) as n_streams,
        count(*) filter (where event_type = 'follow') as n_follows,
        count(*) filter (where event_type = 'preview') as n_previews,
        count(*) filter (where event_type = 'intent_to_pay') as n_intent_to_pay,
        -- bigint on every engine (DuckDB's sum of bigints is a 128-bit integer)
        cast(coalesce(sum(ms_played) filter (where event_type = 'stream'), 0) as bigint) as ms_played_total,
        bool_or(is_consumption) as is_consumed,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at

    from train_events
    group by user_id, item_id

)

select * from aggregated
