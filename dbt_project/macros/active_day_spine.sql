{#- The days on which an entity gets a feature snapshot: its first day, and every day on which
    its trailing feature window holds an event (an event day e makes days e .. e + window active;
    day e + window is the closing row whose window has emptied). Outside these spans every
    windowed count is zero and a snapshot would repeat the closing row, so none is written;
    this keeps a 20-year log (MovieLens) from exploding into entities x 7,000 days.

    Args:
        key: the entity key column (user_id, item_id).
        first_days: a relation with (key, first_date).
        event_days: a relation with distinct (key, event_date).
    Returns the body of a select yielding distinct (key, feature_date). -#}
{% macro active_day_spine(key, first_days, event_days) %}
{%- set window = feature_window_days() | int %}
with

ordered as (

    select
        {{ key }},
        event_date,
        lag(event_date) over (partition by {{ key }} order by event_date) as previous_date
    from {{ event_days }}

),

islands as (

    select
        {{ key }},
        event_date,
        sum(case when previous_date is null or event_date > previous_date + {{ window }} then 1 else 0 end)
            over (partition by {{ key }} order by event_date rows unbounded preceding) as island
    from ordered

),

spans as (

    select {{ key }}, min(event_date) as span_start, max(event_date) + {{ window }} as span_end
    from islands
    group by {{ key }}, island
    union all
    select {{ key }}, first_date as span_start, first_date as span_end
    from {{ first_days }}

),

clipped as (

    select
        {{ key }},
        greatest(span_start, {{ date_var('window_start') }}) as span_start,
        least(span_end, {{ date_var('window_end') }} - 1) as span_end
    from spans

),

days as (

    {{ day_series(key, 'clipped') }}

)

select * from days
{% endmacro %}

{#- One row per (key, day) for every day from span_start to span_end of `spans` (both included). -#}
{% macro day_series(key, spans) %}
    {{- return(adapter.dispatch('day_series', 'gfm')(key, spans)) -}}
{% endmacro %}

{% macro default__day_series(key, spans) %}
    select distinct
        {{ key }},
        cast(span_start + cast(unnest(range(0, {{ days_between('span_start', 'span_end') }} + 1)) as integer) as date)
            as feature_date
    from {{ spans }}
    where span_start <= span_end
{% endmacro %}

{% macro spark__day_series(key, spans) %}
    select distinct
        {{ key }},
        explode(sequence(span_start, span_end)) as feature_date
    from {{ spans }}
    where span_start <= span_end
{% endmacro %}
