{#- No node has more than `cap` edges over the two endpoint columns (the per-item degree cap). -#}
{% test max_degree(model, column_name, other_column, cap) %}
with endpoints as (
    select {{ column_name }} as node_id from {{ model }}
    union all
    select {{ other_column }} as node_id from {{ model }}
)

select node_id, count(*) as degree
from endpoints
group by node_id
having count(*) > {{ cap }}
{% endtest %}
