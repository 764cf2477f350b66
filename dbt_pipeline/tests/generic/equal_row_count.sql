{#- Fails when the model and compare_model do not hold the same number of rows. -#}
{% test equal_row_count(model, compare_model) %}

with

model_rows as (
    select count(*) as count_rows from {{ model }}
),

compare_rows as (
    select count(*) as count_rows from {{ compare_model }}
)

select
    model_rows.count_rows as model_count_rows,
    compare_rows.count_rows as compare_count_rows
from model_rows
cross join compare_rows
where model_rows.count_rows <> compare_rows.count_rows

{% endtest %}
