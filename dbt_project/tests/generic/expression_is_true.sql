{#- Every row satisfies a boolean SQL expression (written in the YAML, never from user input). -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
