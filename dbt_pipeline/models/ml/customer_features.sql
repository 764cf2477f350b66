{#-
    Per-customer behaviour as of the as-of date: the features the ML step clusters on
    (recency_days, count_orders, lifetime_revenue, avg_order_value) and the measures the mart
    reports, and the purchase days the data's purchase rhythm (the usual gap between purchases,
    which the names' absolute rules measure recency in) is computed from. Only customers with
    at least one order before the as-of date appear: a customer who never bought has no
    behaviour to segment.

    The ML step reads these columns by name and type: the model's contract (customer_features.yml)
    holds them, so counts and day spans are cast to one type on every engine.
-#}

with

orders as (

    select * from {{ ref('int_sales_lines_aggregated_to_orders') }}

),

customers as (

    select * from {{ ref('dim_customer') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

per_customer as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as count_orders,
        count(distinct order_date) as count_purchase_days,
        sum(count_sales_lines) as count_sales_lines,
        sum(total_quantity) as total_quantity,
        sum(order_revenue) as lifetime_revenue

    from orders
    group by customer_id

),

final as (

    select
        per_customer.customer_id,
        as_of.as_of_date,
        per_customer.first_order_date,
        per_customer.last_order_date,
        cast(
            {{ dbt.datediff('per_customer.last_order_date', 'as_of.as_of_date', 'day') }}
            as {{ dbt.type_bigint() }}
        ) as recency_days,
        cast(
            {{ dbt.datediff(
                'per_customer.first_order_date', 'per_customer.last_order_date', 'day'
            ) }} + 1
            as {{ dbt.type_bigint() }}
        ) as lifetime_days,
        cast(per_customer.count_orders as {{ dbt.type_bigint() }}) as count_orders,
        cast(per_customer.count_purchase_days as {{ dbt.type_bigint() }}) as count_purchase_days,
        cast(per_customer.count_sales_lines as {{ dbt.type_bigint() }}) as count_sales_lines,
        per_customer.total_quantity,
        cast(per_customer.lifetime_revenue as {{ type_amount() }}) as lifetime_revenue,
        cast(per_customer.lifetime_revenue as {{ type_amount() }}) / per_customer.count_orders
            as avg_order_value,
        customers.tenure_months

    from per_customer
    inner join customers
        on per_customer.customer_id = customers.customer_id
    cross join as_of

)

select * from final
