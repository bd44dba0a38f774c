{#- Time helpers. Every timestamp in the warehouse is TIMESTAMP WITH TIME ZONE; days are UTC days.
    Each helper dispatches on the engine: DuckDB (default__) or Spark (spark__, whose profile sets
    spark.sql.session.timeZone to UTC, so its TIMESTAMP is an instant and casts are UTC days). -#}

{#- The instant type: DuckDB's timestamptz, Spark's TIMESTAMP (local time zone = UTC). -#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz', 'gfm')()) }}
{%- endmacro %}

{% macro default__type_timestamptz() -%}
    timestamptz
{%- endmacro %}

{% macro spark__type_timestamptz() -%}
    timestamp
{%- endmacro %}

{% macro ts_var(name) -%}
    cast('{{ var(name) }}' as {{ type_timestamptz() }})
{%- endmacro %}

{% macro date_var(name) -%}
    {{ utc_date(ts_var(name)) }}
{%- endmacro %}

{#- The UTC calendar day of a timestamptz, whatever the session's time zone. -#}
{% macro utc_date(column) -%}
    {{ return(adapter.dispatch('utc_date', 'gfm')(column)) }}
{%- endmacro %}

{% macro default__utc_date(column) -%}
    cast(timezone('UTC', {{ column }}) as date)
{%- endmacro %}

{% macro spark__utc_date(column) -%}
    cast({{ column }} as date)
{%- endmacro %}

{#- Midnight UTC at the start of a date, as timestamptz. -#}
{% macro utc_midnight(date_expr) -%}
    {{ return(adapter.dispatch('utc_midnight', 'gfm')(date_expr)) }}
{%- endmacro %}

{% macro default__utc_midnight(date_expr) -%}
    timezone('UTC', cast({{ date_expr }} as timestamp))
{%- endmacro %}

{% macro spark__utc_midnight(date_expr) -%}
    cast({{ date_expr }} as timestamp)
{%- endmacro %}

{#- Whole days from one date to a later one (end - start). -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'gfm')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro spark__days_between(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}

{#- When this build ran: the created_at of every mart row. -#}
{% macro build_created_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}+00:00' as {{ type_timestamptz() }})
{%- endmacro %}

{#- Rolling feature window of user_features_daily (the 90d in its column names). -#}
{% macro feature_window_days() -%}
    90
{%- endmacro %}
