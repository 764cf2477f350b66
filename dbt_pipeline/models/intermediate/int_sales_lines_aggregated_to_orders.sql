{#- One row per order (a customer + transaction id pair) placed before the as-of date. -#}
with

sales as (

    select * from {{ ref('fct_sales') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

orders as (

    -- Grouped by the two ids; the order id is written once per order, not once per line.
    select
        sales.customer_id,
        sales.transaction_id,
        min(sales.transaction_date) as order_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as count_sales_lines,
        sum(sales.quantity) as total_quantity,
        sum(sales.invoice_amount) as order_revenue

    from sales
    cross join as_of
    where sales.transaction_date < as_of.as_of_date
    group by sales.customer_id, sales.transaction_id

),

final as (

    select
        {{ dbt.concat(['customer_id', "'|'", 'transaction_id']) }} as order_id,
        customer_id,
        transaction_id,
        order_date,
        count_sales_lines,
        total_quantity,
        order_revenue

    from orders

)

select * from final
