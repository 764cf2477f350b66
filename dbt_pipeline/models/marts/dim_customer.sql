{#-
    One row per customer: those of the customer file with their demographics, then those the
    sales name that the customer file does not, without demographics. The input rules allow
    the latter only when no customer file is given: then every customer is one of them.
-#}

with

customers as (

    select * from {{ ref('stg_marketing_insights__customers') }}

),

sales_lines as (

    select * from {{ ref('stg_marketing_insights__sales_lines') }}

),

buyers_without_record as (

    select distinct sales_lines.customer_id
    from sales_lines
    where not exists (
        select 1 from customers
        where customers.customer_id = sales_lines.customer_id
    )

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
