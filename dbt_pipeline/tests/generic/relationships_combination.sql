{#-
    Like dbt's `relationships`, for several columns at once: fails for every combination of
    `combination_of_columns` in the model that no row of `to` holds under the same column names
    (e.g. a segment id published with another segment's name). Rows with a null in any of the
    columns pass, as `relationships` lets nulls pass: pair with not_null when they must not.
    Returns each missing combination once, with the number of rows holding it.
-#}
{% test relationships_combination(model, combination_of_columns, to) %}

{%- if not combination_of_columns %}
    {{ exceptions.raise_compiler_error("relationships_combination needs combination_of_columns") }}
{%- endif %}

with

child as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as count_rows

    from {{ model }}
    where
        {% for column in combination_of_columns -%}
        {{ column }} is not null{{ '\n        and ' if not loop.last }}
        {%- endfor %}
    group by {{ combination_of_columns | join(', ') }}

),

parent as (

    select distinct {{ combination_of_columns | join(', ') }}
    from {{ to }}

)

select child.*

from child
left join parent
    on
        {% for column in combination_of_columns -%}
        child.{{ column }} = parent.{{ column }}{{ '\n        and ' if not loop.last }}
        {%- endfor %}
where parent.{{ combination_of_columns[0] }} is null

{% endtest %}
