{#- One row per order (a customer + transaction id pair) placed before the as-of date. -#}
with

sales as (

    select * from {{ ref('fct_sales') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

orders as (

    select
        sales.order_id,
        sales.customer_id,
        sales.transaction_id,
        min(sales.transaction_date) as order_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as count_sales_lines,
        sum(sales.quantity) as total_quantity,
        sum(sales.invoice_amount) as order_revenue

    from sales
    cross join as_of
    where sales.transaction_date < as_of.as_of_date
    group by sales.order_id, sales.customer_id, sales.transaction_id

)

select * from orders
