{#-
    Like dbt's `not_null`, for a column an input may leave out: fails for every null row,
    unless the column is null on every row (the input did not have it: custseg loads an optional
    column the file lacks as nulls, and a column it has must hold a value on every line).
-#}
{% test not_null_when_given(model, column_name) %}

select {{ column_name }}

from {{ model }}
where
    {{ column_name }} is null
    and exists (
        select 1 from {{ model }}
        where {{ column_name }} is not null
    )

{% endtest %}
