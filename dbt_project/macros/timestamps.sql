{#- Time helpers. Every timestamp in the warehouse is TIMESTAMP WITH TIME ZONE; days are UTC days. -#}

{% macro ts_var(name) -%}
    cast('{{ var(name) }}' as timestamptz)
{%- endmacro %}

{% macro date_var(name) -%}
    cast(timezone('UTC', {{ ts_var(name) }}) as date)
{%- endmacro %}

{#- The UTC calendar day of a timestamptz, whatever the session's time zone. -#}
{% macro utc_date(column) -%}
    cast(timezone('UTC', {{ column }}) as date)
{%- endmacro %}

{#- Midnight UTC at the start of a date, as timestamptz. -#}
{% macro utc_midnight(date_expr) -%}
    timezone('UTC', cast({{ date_expr }} as timestamp))
{%- endmacro %}

{#- When this build ran: the created_at of every mart row. -#}
{% macro build_created_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}+00:00' as timestamptz)
{%- endmacro %}

{#- Rolling feature window of user_features_daily (the 90d in its column names). -#}
{% macro feature_window_days() -%}
    90
{%- endmacro %}
