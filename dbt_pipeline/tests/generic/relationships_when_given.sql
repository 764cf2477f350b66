{#-
    Like dbt's `relationships`, for a lookup an input may leave out: fails for every value of
    the model that `to` does not hold, unless `to` is empty (custseg loads an optional input
    that is not given as an empty table; a file it is given is never empty). Nulls pass.
-#}
{% test relationships_when_given(model, column_name, to, field) %}

with

child as (

    select {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null

),

parent as (

    select {{ field }} as value
    from {{ to }}

)

select child.value

from child
where
    exists (select 1 from parent)
    and not exists (
        select 1 from parent
        where parent.value = child.value
    )

{% endtest %}
