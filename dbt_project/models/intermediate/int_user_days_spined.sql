-- The (user, UTC day) pairs that get a feature snapshot: the user's first day (signup or first
-- event, whichever is earlier, not before the raw window) and every day whose trailing 90-day
-- window holds one of the user's events, up to the end of the raw window.

with

users as (

    select user_id, signup_at from {{ ref('stg_landing__users') }}

),

event_days as (

    select distinct user_id, event_date
    from {{ ref('int_interactions_classified') }}

),

first_days as (

    select
        users.user_id,
        greatest(
            {{ date_var('window_start') }},
            least({{ utc_date('users.signup_at') }}, coalesce(min(event_days.event_date), {{ utc_date('users.signup_at') }}))
        ) as first_date

    from users
    left join event_days on users.user_id = event_days.user_id
    group by users.user_id, users.signup_at

),

spined as (

    {{ active_day_spine('user_id', 'first_days', 'event_days') }}

)

select * from spined
