{#-
    The one definition of a customer's features as of a date, shared by customer_features (the
    run's as-of date) and customer_features_by_as_of_date (every date of a backfill, in one
    pass): per as-of date, each customer's orders placed before it, aggregated.

    `orders` holds one row per order (int_sales_lines_aggregated_to_orders), `as_of_dates` a
    column as_of_date, `customers` dim_customer; all three are relations or CTE names. An order
    counts at the date of its first line.
-#}
{% macro customer_features_as_of(orders, as_of_dates, customers) -%}

    with

    per_customer as (

        select
            as_of.as_of_date,
            orders.customer_id,
            min(orders.order_date) as first_order_date,
            max(orders.order_date) as last_order_date,
            count(*) as count_orders,
            count(distinct orders.order_date) as count_purchase_days,
            sum(orders.count_sales_lines) as count_sales_lines,
            sum(orders.total_quantity) as total_quantity,
            sum(orders.order_revenue) as lifetime_revenue

        from {{ orders }} as orders
        inner join {{ as_of_dates }} as as_of
            on orders.order_date < as_of.as_of_date
        group by as_of.as_of_date, orders.customer_id

    ),

    final as (

        select
            per_customer.customer_id,
            per_customer.as_of_date,
            per_customer.first_order_date,
            per_customer.last_order_date,
            cast(
                {{ dbt.datediff('per_customer.last_order_date', 'per_customer.as_of_date', 'day') }}
                as {{ dbt.type_bigint() }}
            ) as recency_days,
            cast(
                {{ dbt.datediff(
                    'per_customer.first_order_date', 'per_customer.last_order_date', 'day'
                ) }} + 1
                as {{ dbt.type_bigint() }}
            ) as lifetime_days,
            cast(per_customer.count_orders as {{ dbt.type_bigint() }}) as count_orders,
            cast(per_customer.count_purchase_days as {{ dbt.type_bigint() }})
                as count_purchase_days,
            cast(per_customer.count_sales_lines as {{ dbt.type_bigint() }}) as count_sales_lines,
            per_customer.total_quantity,
            cast(per_customer.lifetime_revenue as {{ type_amount() }}) as lifetime_revenue,
            cast(per_customer.lifetime_revenue as {{ type_amount() }}) / per_customer.count_orders
                as avg_order_value,
            customers.tenure_months

        from per_customer
        inner join {{ customers }} as customers
            on per_customer.customer_id = customers.customer_id

    )

    select * from final

{%- endmacro %}
