{#- Content types are an open set taken from the data (the runner passes var('content_types')).
    The runner refuses names outside [A-Za-z0-9 _-]; they are escaped here anyway. -#}

{% macro content_types() -%}
    {{ return(var('content_types') | sort) }}
{%- endmacro %}

{#- The column-name form of a content type: lower case, runs of other characters -> "_". -#}
{% macro content_type_slug(content_type) -%}
    {{ return(modules.re.sub('[^a-z0-9]+', '_', content_type | lower).strip('_')) }}
{%- endmacro %}

{% macro content_type_literal(content_type) -%}
    '{{ dbt.escape_single_quotes(content_type) }}'
{%- endmacro %}
