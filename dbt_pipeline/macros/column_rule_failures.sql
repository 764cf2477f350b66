{#- The row a multi-column test (not_null_columns, accepted_ranges in tests/generic/) returns
    for one column of `model` when rows break its rule: the model, the column, the rule broken
    and how many rows break it (`condition` true); no row when none does. custseg names these
    in its message when the test fails (custseg.dbt.runner). -#}
{% macro column_rule_failures(model, column_name, rule, condition) -%}
select
    '{{ model.identifier }}' as model_name,
    '{{ column_name }}' as column_name,
    '{{ rule }}' as rule,
    count(*) as failing_rows
from {{ model }}
where {{ condition }}
having count(*) > 0
{%- endmacro %}
