{#-
    One row per customer: those of the customer file with their demographics or, when no
    customer file is given (the table is empty), every customer the sales name, without
    demographics. With a customer file, every buyer is in it: an input rule of the load, and
    the relationships test of stg_marketing_insights__sales_lines for raw tables loaded
    otherwise.
-#}

with

customers as (

    select * from {{ ref('stg_marketing_insights__customers') }}

),

sales_lines as (

    select * from {{ ref('stg_marketing_insights__sales_lines') }}

),

-- Only when the customer file is empty: a customer file given costs no scan of the sales.
buyers_without_record as (

    select distinct sales_lines.customer_id
    from sales_lines
    where not exists (select 1 from customers)

),

final as (

    select
        customer_id,
        gender,
        location,
        tenure_months

    from customers

    union all

    select
        customer_id,
        cast(null as {{ dbt.type_string() }}) as gender,
        cast(null as {{ dbt.type_string() }}) as location,
        cast(null as integer) as tenure_months

    from buyers_without_record

)

select * from final
