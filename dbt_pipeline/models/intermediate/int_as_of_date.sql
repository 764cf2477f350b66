{#-
    The single date every recency and activity measure is taken against: the `as_of_date` var
    when set, otherwise the day after the last transaction in the data. Never today's date: a
    2019 dataset must not make every customer look inactive.
-#}
with

last_transaction as (

    select max(transaction_date) as last_transaction_date
    from {{ ref('stg_marketing_insights__sales_lines') }}

),

as_of as (

    select
        {%- set literal = as_of_date_literal() %}
        {%- if literal %}
        {{ literal }} as as_of_date,
        {%- else %}
        cast({{ dbt.dateadd('day', 1, 'last_transaction_date') }} as date) as as_of_date,
        {%- endif %}
        last_transaction_date

    from last_transaction

)

select * from as_of
