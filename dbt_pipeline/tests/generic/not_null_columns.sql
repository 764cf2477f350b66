{#-
    dbt's `not_null` for several columns of one model in one query: one test node instead of one
    per column (dbt spends about as long on a node as on its query), and one read of the model
    for all its columns (macros/column_rule_failures.sql). Returns one row per column holding
    nulls: the model, the column, the rule broken and the rows breaking it, which custseg reads
    when the test fails (custseg.dbt.runner) so that its message names each column to fix.
-#}
{% test not_null_columns(model, column_names) %}

{%- set rules = [] %}
{%- for column_name in column_names %}
{%- do rules.append({'column': column_name, 'rule': 'null', 'condition': column_name ~ ' is null'}) %}
{%- endfor %}
{{ column_rule_failures(model, rules) }}

{% endtest %}
