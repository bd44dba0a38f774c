-- Per (user, UTC day) with activity: event counts, and n_items_delta, the change that day in the
-- number of distinct items consumed in the trailing feature window. Each consumption day c of an
-- item adds +1 at c and -1 at min(next consumption day of that item, c + window), so a running
-- sum of n_items_delta is the distinct-item count of the window (the pieces never overlap).

with

events as (

    select * from {{ ref('int_interactions_classified') }}

),

daily_counts as (

    select
        user_id,
        event_date as feature_date,
        count(*) filter (where is_consumption) as n_streams,
        {%- for content_type in content_types() %}
        count(*) filter (
            where is_consumption and content_type = {{ content_type_literal(content_type) }}
        ) as n_streams_{{ content_type_slug(content_type) }},
        {%- endfor %}
        count(*) filter (where event_type = 'follow') as n_follows,
        count(*) filter (where event_type = 'preview') as n_previews,
        count(*) filter (where event_type = 'intent_to_pay') as n_intent_to_pay

    from events
    group by user_id, event_date

),

consumption_days as (

    select distinct user_id, item_id, event_date
    from events
    where is_consumption

),

coverage as (

    select
        user_id,
        event_date as start_date,
        least(
            lead(event_date) over (partition by user_id, item_id order by event_date),
            event_date + {{ feature_window_days() }}
        ) as end_date

    from consumption_days

),

deltas as (

    select user_id, start_date as feature_date, 1 as delta from coverage
    union all
    select user_id, end_date as feature_date, -1 as delta from coverage

),

daily_deltas as (

    select user_id, feature_date, cast(sum(delta) as bigint) as n_items_delta
    from deltas
    group by user_id, feature_date

),

joined as (

    select
        coalesce(daily_counts.user_id, daily_deltas.user_id) as user_id,
        coalesce(daily_counts.feature_date, daily_deltas.feature_date) as feature_date,
        coalesce(daily_counts.n_streams, 0) as n_streams,
        {%- for content_type in content_types() %}
        {%- set slug = content_type_slug(content_type) %}
        coalesce(daily_counts.n_streams_{{ slug }}, 0) as n_streams_{{ slug }},
        {%- endfor %}
        coalesce(daily_counts.n_follows, 0) as n_follows,
        coalesce(daily_counts.n_previews, 0) as n_previews,
        coalesce(daily_counts.n_intent_to_pay, 0) as n_intent_to_pay,
        coalesce(daily_deltas.n_items_delta, 0) as n_items_delta

    from daily_counts
    full outer join daily_deltas
        on daily_counts.user_id = daily_deltas.user_id
        and daily_counts.feature_date = daily_deltas.feature_date

)

select * from joined
