{#-
    Fails for every group of rows whose `column_name` (a probability or a share) does not sum
    to one within `tolerance`: each row of a transition matrix, each as-of date's segment shares.
-#}
{% test rows_sum_to_one(model, column_name, group_by, tolerance=0.000001) %}

select
    {{ group_by | join(', ') }},
    sum({{ column_name }}) as total

from {{ model }}
group by {{ group_by | join(', ') }}
having abs(sum({{ column_name }}) - 1) > {{ tolerance }}

{% endtest %}
