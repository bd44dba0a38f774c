-- Point-in-time item features: one row per (item, UTC day) on the days of int_item_days_spined
-- (every day within 90 days after a consumption, plus the first day); feature_at is midnight UTC
-- after the day described (see user_features_daily). Totals run from the start of the raw window;
-- every consumption day is a spine day, so the running sums over spine rows are exact.

with

spine as (

    select * from {{ ref('int_item_days_spined') }}

),

daily as (

    select * from {{ ref('int_item_days_aggregated') }}

),

items as (

    select item_id, published_at from {{ ref('stg_landing__items') }}

),

final as (

    select
        spine.item_id,
        {{ utc_midnight('spine.feature_date + 1') }} as feature_at,
        {{ build_created_at() }} as created_at,
        coalesce(daily.n_streams, 0) as n_streams_1d,
        coalesce(daily.n_listeners, 0) as n_listeners_1d,
        cast(sum(coalesce(daily.n_streams, 0)) over since_start as bigint) as n_streams_total,
        cast(sum(coalesce(daily.n_new_listeners, 0)) over since_start as bigint) as n_listeners_total,
        cast(greatest(0, {{ days_between(utc_date('items.published_at'), 'spine.feature_date + 1') }}) as bigint)
            as age_days

    from spine
    inner join items on spine.item_id = items.item_id
    left join daily
        on spine.item_id = daily.item_id
        and spine.feature_date = daily.feature_date
    window since_start as (
        partition by spine.item_id order by spine.feature_date
        rows between unbounded preceding and current row
    )

)

select * from final
