-- One row per (user, UTC day) from the user's first day (signup or first event, whichever is
-- earlier, but not before the raw window) to the last day of the raw window.

with

users as (

    select user_id, signup_at from {{ ref('stg_landing__users') }}

),

first_events as (

    select user_id, min(event_date) as first_event_date
    from {{ ref('int_interactions_classified') }}
    group by user_id

),

bounds as (

    select
        users.user_id,
        greatest(
            {{ date_var('window_start') }},
            least(
                {{ utc_date('users.signup_at') }},
                coalesce(first_events.first_event_date, {{ utc_date('users.signup_at') }})
            )
        ) as first_date,
        {{ date_var('window_end') }} - 1 as last_date

    from users
    left join first_events on users.user_id = first_events.user_id

),

spined as (

    select
        user_id,
        cast(first_date + cast(unnest(range(0, date_diff('day', first_date, last_date) + 1)) as integer) as date)
            as feature_date

    from bounds

)

select * from spined
