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
{{ column_rule_failures(model, column_name, 'null', column_name ~ ' is null') }}
{%- endfor %}

{% endtest %}
