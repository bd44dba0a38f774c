{#- Every row satisfies a boolean SQL expression (written in the YAML, never from user input).
    On a column, column_name is passed too; the expression names the column itself. -#}
{% test expression_is_true(model, expression, column_name=None) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
