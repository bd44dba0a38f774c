-- Point-in-time user features: one row per (user, UTC day) on the days of int_user_days_spined
-- (every day whose trailing 90 days hold an event, plus the first day). feature_at is midnight
-- UTC after the day the row describes, so a row only counts events strictly before feature_at,
-- and a Feast point-in-time join at event time t (rows with feature_at <= t) never sees t or
-- later. Between spans all counts are zero, which the closing row of each span already says.
{%- set window_rows = feature_window_days() | int - 1 %}

with

spine as (

    select * from {{ ref('int_user_days_spined') }}

),

daily as (

    select * from {{ ref('int_user_days_aggregated') }}

),

final as (

    select
        spine.user_id,
        {{ utc_midnight('spine.feature_date + 1') }} as feature_at,
        {{ build_created_at() }} as created_at,
        cast(sum(coalesce(daily.n_streams, 0)) over last_window as bigint) as n_streams_90d,
        {%- for content_type in content_types() %}
        {%- set slug = content_type_slug(content_type) %}
        cast(sum(coalesce(daily.n_streams_{{ slug }}, 0)) over last_window as bigint) as n_streams_90d_{{ slug }},
        {%- endfor %}
        cast(sum(coalesce(daily.n_follows, 0)) over last_window as bigint) as n_follows_90d,
        cast(sum(coalesce(daily.n_previews, 0)) over last_window as bigint) as n_previews_90d,
        cast(sum(coalesce(daily.n_intent_to_pay, 0)) over last_window as bigint) as n_intent_to_pay_90d,
        cast(sum(coalesce(daily.n_items_delta, 0)) over since_start as bigint) as n_items_90d

    from spine
    left join daily
        on spine.user_id = daily.user_id
        and spine.feature_date = daily.feature_date
    -- every day with an event is a spine day, so a range frame over spine days sees every event
    window
        last_window as (
            partition by spine.user_id order by spine.feature_date
            range between interval {{ window_rows }} days preceding and current row
        ),
        since_start as (
            partition by spine.user_id order by spine.feature_date
            rows between unbounded preceding and current row
        )

)

select * from final
