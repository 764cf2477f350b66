{#- Fails for every row whose value lies outside [min_value, max_value] (bounds optional;
    `inclusive: false` makes them strict). Nulls pass: pair with not_null when they must not. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}

select *
from {{ model }}
where
    {%- if min_value is none and max_value is none %}
    {{ exceptions.raise_compiler_error("accepted_range needs min_value, max_value or both") }}
    {%- endif %}
    {{ out_of_range(column_name, min_value, max_value, inclusive) }}

{% endtest %}
