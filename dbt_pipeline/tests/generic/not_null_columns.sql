{#-
    dbt's `not_null` for several columns of one model in one query: one test node instead of one
    per column (dbt spends about as long on a node as on its query). Returns one row per column
    holding nulls: the model, the column, the rule broken and the rows breaking it, which
    custseg reads when the test fails (custseg.dbt.runner) so that its message names each
    column to fix.
-#}
{% test not_null_columns(model, column_names) %}

{%- for column_name in column_names %}
{%- if not loop.first %}
union all
{%- endif %}
select
    '{{ model.identifier }}' as model_name,
    '{{ column_name }}' as column_name,
    'null' as rule,
    count(*) as failing_rows
from {{ model }}
where {{ column_name }} is null
having count(*) > 0
{%- endfor %}

{% endtest %}
