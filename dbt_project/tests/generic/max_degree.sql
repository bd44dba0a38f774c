{#- No node has more than `cap` edges over the two endpoint columns (the per-item degree cap).
    With degree_cap_scope 'relation' the cap holds per content type of the neighbour
    (`type_column` / `other_type_column` name the endpoints' types). -#}
{% test max_degree(model, column_name, other_column, cap, type_column=none, other_type_column=none) %}
{%- set per_relation = type_column is not none and var('degree_cap_scope', 'item') == 'relation' -%}
with endpoints as (
    select {{ column_name }} as node_id
        {%- if per_relation %}, {{ other_type_column }} as neighbour_type{% endif %}
    from {{ model }}
    union all
    select {{ other_column }} as node_id
        {%- if per_relation %}, {{ type_column }} as neighbour_type{% endif %}
    from {{ model }}
)

select node_id, count(*) as degree
from endpoints
group by node_id{% if per_relation %}, neighbour_type{% endif %}
having count(*) > {{ cap }}
{% endtest %}
