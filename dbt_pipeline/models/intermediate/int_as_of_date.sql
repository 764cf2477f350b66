{#-
    The single date every recency and activity measure is taken against: the `as_of_date` var
    when set, otherwise the day after the last transaction in the data. Never today's date: a
    2019 dataset must not make every customer look inactive.
-#}
{#- The day after the last transaction unless the var sets a date (trimmed: the macro's own line
    breaks would end up in the select list). -#}
{%- set as_of_date = as_of_date_literal()
    or 'cast(' ~ (dbt.dateadd('day', 1, 'last_transaction_date') | trim) ~ ' as date)' %}

with

last_transaction as (

    select max(transaction_date) as last_transaction_date
    from {{ ref('stg_marketing_insights__sales_lines') }}

),

as_of as (

    select
        {{ as_of_date }} as as_of_date,
        last_transaction_date

    from last_transaction

)

select * from as_of
