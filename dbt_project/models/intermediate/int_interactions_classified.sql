-- Every event with its item's content type, its UTC day, whether it is a consumption
-- (a stream of at least min_ms_played) and which split window it falls in.

with

interactions as (

    select * from {{ ref('stg_landing__interactions') }}

),

items as (

    select item_id, content_type from {{ ref('stg_landing__items') }}

),

classified as (

    select
        interactions.event_id,
        interactions.user_id,
        interactions.item_id,
        items.content_type,
        interactions.event_at,
        {{ utc_date('interactions.event_at') }} as event_date,
        interactions.event_type,
        interactions.ms_played,
        (
            interactions.event_type = 'stream'
            and interactions.ms_played >= {{ var('min_ms_played') }}
        ) as is_consumption,
        case
            when interactions.event_at < {{ ts_var('train_start') }} then 'before_train'
            when interactions.event_at < {{ ts_var('train_end') }} then 'train'
            when interactions.event_at < {{ ts_var('eval_end') }} then 'eval'
            else 'after_eval'
        end as split_window

    from interactions
    inner join items on interactions.item_id = items.item_id

)

select * from classified
